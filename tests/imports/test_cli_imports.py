"""`fedicity organizations import` and `fedicity territories centres` as the installed command:
the dry run prints the plan and changes nothing, the apply writes it, errors are one line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.imports import queries
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.imports.test_organizations_csv import slice_without_centres
from tests.test_cli import _assert_clean_failure, cli_env

__all__ = ["cli_env"]  # the fixture, used by name


async def test_organizations_and_centres_from_the_command_line(
    pool: Pool, keygen: FixedKeys, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await slice_without_centres(pool, tmp_path)
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="alice", password="correct horse battery", keygen=keygen
        )
    orgs = tmp_path / "liste.csv"
    text = (
        "Dénomination;Ville;Mail\nAMAP;93048;amap@example.org\nClub;Bagnolet;=cmd|' /C calc'!A0\n"
    )
    await asyncio.to_thread(orgs.write_bytes, text.encode("cp1252"))
    common = ("organizations", "import", str(orgs), "--admin", "alice")
    maps = ("--map", "name=Dénomination", "--map", "commune=Ville", "--map", "email=Mail")

    dry = await run_cli(*common, *maps, "--dry-run", env=cli_env)
    assert dry.code == 0, dry
    assert dry.stdout.splitlines() == [
        "mapping: name=Dénomination commune=Ville email=Mail",
        "line 2: created AMAP",
        "line 3: refused Club: email looks like a spreadsheet formula: \"=cmd|' /C calc'!A0\"",
        "liste.csv: 1 created, 0 updated, 0 unchanged, 1 refused (dry run, nothing applied)",
    ]
    async with pool.acquire() as conn:
        assert await queries.select_local_organizations(conn) == []

    applied = await run_cli(*common, *maps, env=cli_env)
    assert applied.code == 0, applied
    assert applied.stdout.splitlines()[-1] == (
        "liste.csv: 1 created, 0 updated, 0 unchanged, 1 refused (applied)"
    )
    async with pool.acquire() as conn:
        (amap,) = await queries.select_local_organizations(conn)
    assert (amap["display_name"], amap["email"]) == ("AMAP", "amap@example.org")

    _assert_clean_failure(
        await run_cli(*common, "--map", "nom=x", env=cli_env), "--map 'nom=x': FIELD=COLUMN"
    )
    _assert_clean_failure(
        await run_cli(*common, "--map", "name=absent", env=cli_env), "no column named 'absent'"
    )
    _assert_clean_failure(
        await run_cli("organizations", "import", str(orgs), "--admin", "bob", env=cli_env),
        "no local person named 'bob'",
    )

    points = tmp_path / "centres.csv"
    await asyncio.to_thread(
        points.write_text, 'codgeo,geo_point_2d\n93048,"48.8638, 2.4485"\n99999,"1, 1"\n'
    )
    result = await run_cli("territories", "centres", str(points), env=cli_env)
    assert result.code == 0, result
    assert result.stdout.splitlines() == [
        "line 2: created Montreuil",
        "line 3: refused 99999: unknown commune code",
        "centres.csv: 1 created, 0 updated, 0 unchanged, 1 refused (applied)",
    ]
    shown = await run_cli("territories", "show", "commune", "93048", env=cli_env)
    assert "centre 48.8638, 2.4485" in shown.stdout
    _assert_clean_failure(
        await run_cli("territories", "centres", str(tmp_path / "none.csv"), env=cli_env),
        "No such file",
    )
