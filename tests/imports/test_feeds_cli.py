"""`fedicity imports ...` as a subprocess: a feed followed for a person, fetched, listed,
conditional on the next fetch, refusals in one line, stopped; every change in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.imports.test_feeds import MARKET, FeedServer, _calendar, server  # noqa: F401
from tests.test_cli import cli_env  # noqa: F401  (cli_env is a fixture)


async def test_feeds_from_the_command_line(
    pool: Pool,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
    server: FeedServer,  # noqa: F811
) -> None:
    async with pool.acquire() as conn:
        await accounts.register(conn, username="lea", password="correct horse", keygen=keygen)
    # The command runs on the real clock: an event a month ahead
    day = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y%m%d")
    server.serve("/lea.ics", _calendar(MARKET.replace("20260110", day)))
    env = {**cli_env, "FEDICITY_ALLOW_PRIVATE_ADDRESSES": "true"}
    url = server.url("/lea.ics")
    added = await run_cli("imports", "add-feed", url, "--as", "lea", "--format", "ical", env=env)
    assert added.code == 0, added
    assert "feed 1 followed for lea" in added.stdout
    assert "1 created, 0 updated, 0 cancelled, 0 unchanged, 0 skipped" in added.stdout
    listed = await run_cli("imports", "list", env=env)
    assert listed.stdout.startswith("1\tical\tactive\tlea\t1\t")
    again = await run_cli("imports", "fetch", "1", env=env)
    assert "not modified" in again.stdout, again
    for args, fragment in (
        (("imports", "add-feed", url, "--as", "lea"), "already followed"),
        (("imports", "add-feed", url, "--as", "nobody"), "no local account"),
        (("imports", "add-feed", "javascript:alert(1)", "--as", "lea"), "not a web address"),
        (("imports", "fetch", "99"), "no followed feed"),
    ):
        refused = await run_cli(*args, env=env)
        assert refused.code == 1, refused
        assert fragment in refused.stderr
        assert "Traceback" not in refused.stderr
    stopped = await run_cli("imports", "stop", "1", env=env)
    assert stopped.stdout.strip() == "feed 1 stopped"
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT action, actor_name FROM audit_log ORDER BY id")
        events = await conn.fetchval("SELECT count(*) FROM events")
    assert [r["action"] for r in rows] == [
        "import.feed_add",
        "import.feed_fetch",
        "import.feed_fetch",
        "import.feed_stop",
    ]
    assert all(r["actor_name"].startswith("cli:") for r in rows)
    assert events == 1
