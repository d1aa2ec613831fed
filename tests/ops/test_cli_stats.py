"""`fedicity stats` and `fedicity queue stats`, run as the installed command."""

from __future__ import annotations

import json
from pathlib import Path

from fedicity.clock import SystemClock
from fedicity.db.pool import Pool
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.ops.seeding import seed
from tests.test_cli import cli_env  # noqa: F401 -- cli_env is a fixture


async def test_stats_prints_the_dashboard_as_json(
    pool: Pool,
    keygen: FixedKeys,
    tmp_path: Path,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    seeded = await seed(pool, keygen, tmp_path / "data", SystemClock().now())
    result = await run_cli("stats", "--json", "--domains", "3", env=cli_env)
    assert result.code == 0, result
    document = json.loads(result.stdout)
    queues = {queue["queue"]: queue for queue in document["queues"]}
    assert (queues["inbox"]["pending"], queues["inbox"]["failed"]) == (1, 1)
    assert (queues["delivery"]["pending"], queues["delivery"]["due"]) == (4, 3)
    assert queues["delivery"]["lag_seconds"] >= 120
    assert document["users"] == {
        "accounts": 3,
        "active_30_days": 1,
        "admins": 1,
        "remote_actors": 2,
    }
    assert document["storage"]["disk_bytes"] == seeded.disk_bytes
    assert document["storage"]["media_bytes"] == seeded.media_bytes
    assert document["backlog"]["open_reports"] == 2
    assert [row["domain"] for row in document["domains"]] == [
        "down.example",
        "flaky.example",
        "busy.example",
    ]
    assert document["domains"][0]["status"] == "unavailable"


async def test_queue_stats_prints_tab_separated_lines(
    pool: Pool,
    keygen: FixedKeys,
    tmp_path: Path,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    await seed(pool, keygen, tmp_path / "data", SystemClock().now())
    result = await run_cli("queue", "stats", env=cli_env)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "queue\tpending\tdue\tlag_seconds\tfailed"
    assert lines[1].split("\t")[:3] == ["inbox", "1", "1"]
    assert lines[2].split("\t")[:3] == ["delivery", "4", "3"]
    assert lines[2].split("\t")[4] == "-"
    domains = [line.split("\t") for line in lines[lines.index("") + 2 :]]
    assert [row[:2] for row in domains[:2]] == [
        ["down.example", "unavailable"],
        ["flaky.example", "failing"],
    ]
    # users and storage are `fedicity stats`'s, and an absurd count lists no domain
    assert "accounts" not in result.stdout
    none = await run_cli("queue", "stats", "--domains", "-5", env=cli_env)
    assert none.code == 0, none
    assert "domain\t" not in none.stdout
    bad = await run_cli("queue", "stats", "--domains", "many", env=cli_env)
    assert bad.code == 2
    assert "invalid int value" in bad.stderr
