"""What quart-schema costs the requests that are not the API's: quart-schema wraps the app's
make_response (every response goes through its converter) and swaps the JSON provider. This times
the same requests with and without it (`web/openapi.install` made a no-op: the lever off), or
against another checkout of fedicity, alternating rounds, in one run.

Run from the repository root:

    .venv/bin/python -m bench.api
    .venv/bin/python -m bench.api --rounds 8 --requests 400
    .venv/bin/python -m bench.api --before ../base --before-python ../base/.venv/bin/python

Each side runs in a child process of its own (its Python, its `fedicity` on PYTHONPATH) with
its own embedded PostgreSQL: the territory slice of the tests imported, Seine-Saint-Denis served,
a citizen with 20 located public notes. The parent asks each child in turn for a round of
--requests requests per path through Quart's test client (in process: no sockets, so the
framework's share is what is measured), and prints the child's CPU microseconds per request
(PostgreSQL's own CPU is not counted; CPU rather than wall time, as the machine is shared) and
the after/before ratio per path, with the median of the rounds. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATHS = (
    "/api/territories/commune/93048/items",
    "/api/territories/search?q=montreuil",
    "/events",
    "/territoires/commune/93048",
    # The API's own lists (the same paths in checkouts since the API was merged).
    "/api/v1/places?territory=commune:93048",
    "/api/v1/proposals",
)


async def _worker(requests: int, openapi: bool) -> None:
    """Seed, then answer each 'round' line on stdin with one JSON line of timings."""
    if not openapi:
        from fedicity.web import openapi as lever

        lever.install = lambda app: None  # type: ignore[assignment]
    from bench.common import FixedKeys, fresh_database
    from fedicity.accounts import service as accounts
    from fedicity.actors import queries as actor_queries
    from fedicity.clock import FrozenClock
    from fedicity.db.pool import create_pool
    from fedicity.settings import Settings
    from fedicity.territories import queries as territory_queries
    from fedicity.territories import service as territory_service
    from fedicity.urls import Urls
    from fedicity.web.app import create_app
    from tests.territory_helpers import import_slice

    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(Path(tmp)) as database:
            pool = await create_pool(database.dsn)
            await import_slice(pool, Path(tmp))
            settings = Settings(
                base_url="http://fedicity.test",
                data_dir=Path(tmp),
                secret_key=secrets.token_hex(32),
                territory_level="departement",
                territory_code="93",
            )
            await territory_service.prepare_serving(pool, settings)
            keygen, clock, urls = FixedKeys(), FrozenClock(), Urls(settings.base_url)
            async with pool.acquire() as conn:
                account = await accounts.register(
                    conn, username="camille", password="x" * 20, keygen=keygen, locale="fr"
                )
                actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
                place = await territory_queries.select_territory(conn, "commune", "93048")
                root = await territory_queries.select_territory(conn, "departement", "93")
                assert actor is not None
                assert place is not None
                for number in range(20):
                    await territory_service.write_note(
                        conn,
                        actor=actor,
                        text=f"Note {number}",
                        visibility="public",
                        place=place,
                        root=root,
                        urls=urls,
                        clock=clock,
                        keygen=keygen,
                        local_host=settings.host,
                        resolved={},
                    )
            app = create_app(settings, pool=pool, clock=clock, keygen=keygen)
            async with app.test_app():
                client = app.test_client()
                headers = {"Accept": "application/json"}
                print("ready", flush=True)
                for line in sys.stdin:
                    if line.strip() != "round":
                        break
                    timings = {}
                    for path in PATHS:
                        accept = {} if path.startswith("/api/") else {"Accept": "text/html"}
                        started = time.process_time()
                        for _ in range(requests):
                            response = await client.get(path, headers=accept or headers)
                            assert response.status_code == 200, (path, response.status_code)
                        timings[path] = (time.process_time() - started) / requests * 1e6
                    print(json.dumps(timings), flush=True)
            await pool.close()


def _child(
    checkout: Path, python: str, requests: int, *, openapi: bool = True
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    env.pop("FEDICITY_DATABASE_URL", None)
    child = subprocess.Popen(
        # By its file: the checkout compared with may not have this script.
        [
            python,
            str(Path(__file__).resolve()),
            "--worker",
            "--requests",
            str(requests),
            *(() if openapi else ("--without-openapi",)),
        ],
        cwd=checkout,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == "ready":
            return child
    raise SystemExit(f"the worker in {checkout} did not start")


def _round(child: subprocess.Popen[str]) -> dict[str, float]:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write("round\n")
    child.stdin.flush()
    timings: dict[str, float] = json.loads(child.stdout.readline())
    return timings


def main() -> None:
    """Time both checkouts, alternating, and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--without-openapi", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="the checkout to compare with")
    parser.add_argument("--before-python", help="its Python (default: <before>/.venv/bin/python)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker(args.requests, openapi=not args.without_openapi))
        return
    if args.before is None:
        before = _child(Path.cwd(), sys.executable, args.requests, openapi=False)
        print("before: this checkout without quart-schema; after: with it")
    else:
        python = args.before_python or str(args.before / ".venv" / "bin" / "python")
        before = _child(args.before, python, args.requests)
        print(f"before: {args.before}; after: this checkout")
    children = {"before": before, "after": _child(Path.cwd(), sys.executable, args.requests)}
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    try:
        for number in range(args.rounds):
            order = ("before", "after") if number % 2 == 0 else ("after", "before")
            for name in order:
                results[name].append(_round(children[name]))
    finally:
        for child in children.values():
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=60)
    print(f"{args.rounds} rounds of {args.requests} requests per path, alternating")
    print(f"{'path':45} {'before CPU µs':>14} {'after CPU µs':>13} {'after/before':>13}")
    for path in PATHS:
        before = statistics.median(r[path] for r in results["before"])
        after = statistics.median(r[path] for r in results["after"])
        print(f"{path:45} {before:14.0f} {after:13.0f} {after / before:13.3f}")


if __name__ == "__main__":
    main()
