"""Shared fixtures: a real PostgreSQL (embedded unless FEDICITY_TEST_DATABASE_URL is set),
a migrated database cleaned before each test, fixed keys, and the app with its test client."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.activitypub.keys import KeyPair, load_private_key, public_pem_of
from fedicity.clock import FrozenClock
from fedicity.db import embedded
from fedicity.db.migrate import migrate
from fedicity.db.pool import Pool, connect, create_pool
from fedicity.settings import Settings
from fedicity.web.app import create_app
from tests.interop.peers import prefetch

FIXTURES = Path(__file__).parent / "fixtures"
TEST_DATABASE = "fedicity_test"


def fixed_keypairs() -> list[KeyPair]:
    """The committed test-only RSA keys, as key pairs."""
    return list(_loaded_keypairs())


# Loaded once per process: loading (and checking) six RSA keys took ~60 ms idle, 350 ms under
# load, and every test with the `keygen` fixture (every app) did it again.
@functools.cache
def _loaded_keypairs() -> tuple[KeyPair, ...]:
    pairs = []
    for path in sorted((FIXTURES / "keys").glob("rsa_*.pem")):
        private_pem = path.read_text()
        pairs.append(
            KeyPair(private_pem, public_pem_of(load_private_key(private_pem).public_key()))
        )
    return tuple(pairs)


class FixedKeys:
    """A key generator that hands out the committed test keys in turn."""

    def __init__(self) -> None:
        self._cycle = itertools.cycle(fixed_keypairs())

    def __call__(self) -> KeyPair:
        return next(self._cycle)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Captured logs may quote hostile input with lone surrogates, which cannot travel as UTF-8
    from an xdist worker: they are written as escapes instead."""
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]


# The longest tests or files, with their seconds under four workers on two cores (the last full
# run). Work stealing hands each worker a quarter of the collection in order and steals from the
# end of the longest queue, so a long test late in the collection starts late and the others sit
# idle waiting for it. Each of these is put at the head of a worker's quarter instead (the longest
# first, each on the quarter with the least of them so far); everything else keeps its order. A
# file with a module-scoped fixture moves whole, so that its setup still runs once.
LONG_FIRST = {
    "tests/web/test_no_500.py::test_odd_accept_headers_never_fail": 77,
    "tests/test_run_lifecycle.py": 45,
    "tests/territories/test_import.py": 43,
    "tests/web/test_no_500.py::test_hostile_form_values_with_a_valid_token_never_fail": 41,
    "tests/web/test_api_schemathesis.py": 37,
    "tests/browser/test_screenshots.py": 35,
    "tests/web/test_no_500.py::test_hostile_path_segments_never_fail": 27,
    "tests/web/test_no_500.py::test_garbage_query_strings_never_fail": 26,
    "tests/web/test_no_500.py::test_bodies_over_one_mebibyte_are_413": 24,
}


def _long_unit(item: pytest.Item) -> str | None:
    for unit in LONG_FIRST:
        if item.nodeid == unit or item.nodeid.startswith(unit + "::"):
            return unit
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the long tests at the head of each xdist worker's share (see LONG_FIRST)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    units: dict[str, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        unit = _long_unit(item)
        if unit is None:
            rest.append(item)
        else:
            units.setdefault(unit, []).append(item)
    # The shares worksteal's first round hands out: len // workers left, in turn.
    sizes = []
    left = len(items)
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    seconds = [0] * workers
    for unit in sorted(units, key=lambda name: -LONG_FIRST[name]):
        share = min(range(workers), key=lambda i: (seconds[i], len(heads[i])))
        heads[share].extend(units[unit])
        seconds[share] += LONG_FIRST[unit]
    ordered: list[pytest.Item] = []
    for share, head in enumerate(heads):
        take = max(0, sizes[share] - len(head))
        ordered += head + rest[:take]
        del rest[:take]
    ordered += rest
    assert len(ordered) == len(items)
    items[:] = ordered


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install the interop peers the selected tests need in the background (a cold cache only)."""
    prefetch(item.nodeid for item in session.items)


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of the server's maintenance database."""
    external = os.environ.get("FEDICITY_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = embedded.start(tmp_path_factory.mktemp("pg"), database="postgres")
    try:
        _without_fsync(server.dsn)
        yield server.dsn
    finally:
        server.stop()


def _without_fsync(server_dsn: str) -> None:
    """The session's throwaway server flushes nothing to disk: a commit waited ~40 ms for the
    disk here, and a test commits often. Only a crash of the machine loses anything (the data
    folder is deleted after the run anyway); a crash of PostgreSQL itself still recovers."""

    async def configure() -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute("ALTER SYSTEM SET fsync = off")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    # In a thread of its own: asyncio.run would unset the session's event loop here.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, configure()).result()


async def _fresh_database(server_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _with_database(server_dsn, name)
    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="session")
async def database_dsn(pg_server_dsn: str) -> str:
    """A freshly created and migrated test database."""
    return await _fresh_database(pg_server_dsn, TEST_DATABASE)


@pytest.fixture(scope="session")
async def database_dsn_b(pg_server_dsn: str) -> str:
    """A second database, for a second instance in federation tests."""
    return await _fresh_database(pg_server_dsn, TEST_DATABASE + "_b")


def _with_database(dsn: str, database: str) -> str:
    """Swap the database name in a postgresql:// DSN (which may carry ?host=/socket/dir)."""
    head, sep, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}{sep}{query}"


@pytest.fixture(scope="session")
async def pool(database_dsn: str) -> AsyncIterator[Pool]:
    """A pool on the test database, shared by the whole session."""
    created = await create_pool(database_dsn, max_size=8)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="session")
async def pool_b(database_dsn_b: str) -> AsyncIterator[Pool]:
    """A pool on the second test database."""
    created = await create_pool(database_dsn_b, max_size=8)
    try:
        yield created
    finally:
        await created.close()


# Only the tables a test wrote to are truncated, and only the sequences it drew from are
# restarted: the same empty database as a TRUNCATE of every table with RESTART IDENTITY, but a
# TRUNCATE costs per table (new files for the table and its indexes), and every table of the
# schema was ~0.6 s per test, most of the suite's time. One round trip, read afresh each time so
# that a table a test creates is emptied too.
_EMPTY_DATABASE = """
DO $$
DECLARE
    name text;
    used text[] := '{}';
    filled boolean;
BEGIN
    FOR name IN
        SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
         WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM ' || name || ')' INTO filled;
        IF filled THEN
            used := used || name;
        END IF;
    END LOOP;
    IF cardinality(used) > 0 THEN
        EXECUTE 'TRUNCATE ' || array_to_string(used, ', ') || ' CASCADE';
    END IF;
    -- RESTART IDENTITY restarted the sequences owned by a column, and only those.
    PERFORM setval(sequence.oid, sequences.start_value, false)
       FROM pg_sequences AS sequences
       JOIN pg_class AS sequence
         ON sequence.relname = sequences.sequencename
        AND sequence.relnamespace = 'public'::regnamespace
      WHERE sequences.schemaname = 'public' AND sequences.last_value IS NOT NULL
        AND EXISTS (SELECT FROM pg_depend
                     WHERE classid = 'pg_class'::regclass AND objid = sequence.oid
                       AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i'));
END $$
"""


async def empty_database(db: Pool) -> None:
    """Empty every table but the migration record, as if just migrated, and restore the config
    row."""
    async with db.acquire() as conn:
        await conn.execute(_EMPTY_DATABASE)
        await conn.execute("INSERT INTO instance_config (singleton) VALUES (true)")


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> None:
    """Empty every table before a test that uses a database."""
    for name in ("pool", "pool_b"):
        if name in request.fixturenames:
            await empty_database(request.getfixturevalue(name))


@pytest.fixture
def keygen() -> FixedKeys:
    """Fixed keys instead of fresh RSA generation."""
    return FixedKeys()


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that only moves when a test moves it."""
    return FrozenClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of an instance at http://fedicity.test."""
    return Settings(
        base_url="http://fedicity.test",
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough",
    )


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[Quart]:
    """The app, started (before_serving ran) on the test pool."""
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    """A test client for the app."""
    return app.test_client()
