"""`fedicity policy ...` as a subprocess: a Mastodon CSV round-trips, options and subscriptions."""

from __future__ import annotations

from pathlib import Path

from fedicity.audit import queries as audit_queries
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from tests.cli_fork import run_cli
from tests.moderation.test_domain_blocklists import HEADER, ListServer, server  # noqa: F401
from tests.test_cli import cli_env  # noqa: F401  (cli_env is a fixture)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "moderation" / "mastodon_domain_blocks.csv"


async def test_a_mastodon_csv_round_trips_through_the_command_line(
    pool: Pool,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    # A dry run says what would be added and saves nothing
    dry = await run_cli("policy", "import", str(FIXTURE), "--dry-run", env=cli_env)
    assert dry.code == 0, dry
    assert "would add gab.example" in dry.stdout
    assert "6 added, 0 changed, 0 unchanged, 0 refused (dry run: nothing saved)" in dry.stdout
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policies(conn, limit=10) == []
    # The import applies it; the export gives back the same file, byte for byte
    done = await run_cli("policy", "import", str(FIXTURE), env=cli_env)
    assert done.code == 0, done
    exported = await run_cli("policy", "export", env=cli_env)
    assert exported.code == 0, exported
    assert exported.stdout == FIXTURE.read_text()
    # And importing the export again changes nothing
    again = await run_cli("policy", "import", "-", env=cli_env, stdin=exported.stdout)
    assert "0 added, 0 changed, 6 unchanged, 0 refused" in again.stdout
    async with pool.acquire() as conn:
        entries = await audit_queries.select_page(conn, limit=10)
    assert [e.action for e in entries] == ["domain.import"]
    assert entries[0].actor_name.startswith("cli:")


async def test_policies_with_their_options_from_the_command_line(
    pool: Pool,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    result = await run_cli(
        "policy",
        "silence",
        "*.Loud.Example",
        "--reject-reports",
        "--public-comment",
        "bots",
        "--reason",
        "ticket 7",
        env=cli_env,
    )
    assert result.code == 0, result
    assert result.stdout.strip() == "loud.example: silence"
    reject = await run_cli("policy", "reject", "pics.example", "--reject-media", env=cli_env)
    assert reject.stdout.strip() == "pics.example: noop"
    listed = await run_cli("policy", "list", env=cli_env)
    assert "loud.example\tsilence\tticket 7\treject_reports" in listed.stdout
    assert "pics.example\tnoop\t\treject_media" in listed.stdout
    # Refusals are one line naming the problem
    for args, fragment in (
        (("policy", "suspend", "javascript:alert(1)"), "not a domain name"),
        (("policy", "reject", "x.example"), "rejects something"),
        (("policy", "import", "/nonexistent.csv"), "cannot read"),
    ):
        refused = await run_cli(*args, env=cli_env)
        assert refused.code == 1, refused
        assert fragment in refused.stderr
        assert "Traceback" not in refused.stderr
    lifted = await run_cli("policy", "lift", "loud.example", "--reason", "calm", env=cli_env)
    assert lifted.stdout.strip() == "policy lifted for loud.example"
    async with pool.acquire() as conn:
        policy = await moderation_queries.select_domain_policy(conn, "a.loud.example")
        entries = await audit_queries.select_page(conn, limit=10)
    assert policy is None
    assert [(e.action, e.reason) for e in reversed(entries)] == [
        ("domain.silence", "ticket 7"),
        ("domain.noop", ""),
        ("domain.lift", "calm"),
    ]


async def test_subscribing_from_the_command_line_fetches_the_list(
    pool: Pool,
    cli_env: dict[str, str],  # noqa: F811
    server: ListServer,  # noqa: F811
) -> None:
    server.serve("/list.csv", HEADER + "spam.example,suspend,false,false,,false\n")
    env = {**cli_env, "FEDICITY_ALLOW_PRIVATE_ADDRESSES": "true"}
    result = await run_cli("policy", "subscribe", server.url("/list.csv"), env=env)
    assert result.code == 0, result
    assert "1 added, 0 changed, 0 lifted" in result.stdout
    server.serve("/list.csv", HEADER)
    synced = await run_cli("policy", "sync", env=env)
    assert "0 added, 0 changed, 1 lifted" in synced.stdout
    gone = await run_cli("policy", "unsubscribe", server.url("/list.csv"), env=env)
    assert gone.code == 0, gone
    async with pool.acquire() as conn:
        assert await moderation_queries.select_blocklists(conn) == []
        actions = [e.action for e in reversed(await audit_queries.select_page(conn, limit=10))]
    assert actions == [
        "blocklist.subscribe",
        "blocklist.sync",
        "blocklist.sync",
        "blocklist.unsubscribe",
    ]
