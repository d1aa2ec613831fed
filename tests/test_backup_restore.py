"""Backups as docs/admin.md describes them: `pg_dump --format=custom` of a seeded instance,
`pg_restore` into a fresh database, and the restored instance serves the same actor and posts
over real HTTP on the same address.

pg_dump must be at least as new as the server, so the binaries are looked for where an
installation puts them (PATH, `pg_config --bindir`, the pgserver wheel's own), and the first pair
new enough is used; the test is skipped, saying why, only where none is."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.migrate import migrate
from fedicity.db.pool import Pool, connect, create_pool
from fedicity.posts import service as posts
from tests.conftest import FixedKeys
from tests.flows.harness import free_port, running_instance

ACTIVITY_JSON = {"Accept": "application/activity+json"}
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def _candidate_dirs() -> Iterator[Path]:
    """Folders that may hold pg_dump and pg_restore, most likely first."""
    on_path = shutil.which("pg_dump")
    if on_path:
        yield Path(on_path).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            yield Path(found.stdout.strip())
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        yield Path(spec.origin).parent / "pginstall" / "bin"


def _major(binary: Path) -> int | None:
    try:
        shown = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    matched = _VERSION.search(shown.stdout)
    return int(matched[1]) if matched else None


def postgres_tools(server_major: int) -> tuple[Path, Path] | str:
    """pg_dump and pg_restore at least as new as the server, or why there are none."""
    seen = []
    for folder in _candidate_dirs():
        dump, restore = folder / "pg_dump", folder / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        major = _major(dump)
        seen.append(f"{dump} ({major})")
        if major is not None and major >= server_major:
            return dump, restore
    return (
        f"no pg_dump/pg_restore of PostgreSQL {server_major} or newer "
        f"(looked on PATH, in pg_config --bindir and in the pgserver wheel; found: "
        f"{', '.join(seen) or 'none'})"
    )


def _with_database(dsn: str, database: str) -> str:
    head, sep, query = dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}{sep}{query}"


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")


async def _documents(base: str, paths: list[str]) -> list[object]:
    async with httpx.AsyncClient(base_url=base) as http:
        answers = [await http.get(path, headers=ACTIVITY_JSON) for path in paths]
    for answer in answers:
        assert answer.status_code == 200, (answer.url, answer.status_code)
    return [answer.json() for answer in answers]


async def test_a_dump_restored_into_a_fresh_database_serves_the_same_actor_and_posts(
    pool: Pool,
    database_dsn: str,
    pg_server_dsn: str,
    tmp_path: Path,
    keygen: FixedKeys,
    clock: FrozenClock,
) -> None:
    async with pool.acquire() as conn:
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    tools = postgres_tools(server_major)
    if isinstance(tools, str):
        pytest.skip(tools)
    pg_dump, pg_restore = tools
    port = free_port()

    # Given an instance with a citizen and her posts, serving them on its address
    async with running_instance(pool, tmp_path / "a", keygen, worker=False, port=port) as a:
        async with pool.acquire() as conn:
            account = await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
            camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert camille is not None
            written = [
                await posts.create_note(
                    conn,
                    actor=camille,
                    text=f"Réunion de quartier n° {n} #quartier",
                    visibility="public",
                    urls=a.urls,
                    clock=clock,
                    local_host=a.settings.host,
                    resolved={},
                )
                for n in range(3)
            ]
        paths = ["/actors/camille", "/actors/camille/outbox?page=true"] + [
            post.uri.removeprefix(a.base) for post in written
        ]
        before = await _documents(a.base, paths)

    # When it is dumped in the custom format and restored into a new database
    dump_file = tmp_path / "fedicity.dump"
    await _run(str(pg_dump), "--format=custom", f"--file={dump_file}", database_dsn)
    restored_name = f"fedicity_restored_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{restored_name}"')
        restored_dsn = _with_database(pg_server_dsn, restored_name)
        await _run(
            str(pg_restore),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={restored_dsn}",
            str(dump_file),
        )
        # Then the restored database needs no migration (the record came along)
        restored = await connect(restored_dsn)
        try:
            assert await migrate(restored) == []
        finally:
            await restored.close()
        # And an instance on it, at the same address, serves the same documents
        restored_pool = await create_pool(restored_dsn, max_size=4)
        try:
            async with running_instance(
                restored_pool, tmp_path / "b", keygen, worker=False, port=port
            ) as b:
                after = await _documents(b.base, paths)
                async with httpx.AsyncClient(base_url=b.base) as http:
                    profile = await http.get("/@camille", headers={"Accept": "text/html"})
        finally:
            await restored_pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
        await admin.close()
    assert after == before
    assert profile.status_code == 200
    assert "Réunion de quartier n° 2" in profile.text
