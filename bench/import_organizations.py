"""CSV organisations import benchmark: the wall time of applying a file of new organisations
(as `fedicity organizations import FILE --admin NAME` does, with real RSA key generation), for
this checkout and, alternating in the same run, another source tree (the "before").

Run from the repository root (the "before" being, e.g., `git archive REV | tar -x -C DIR`):

    .venv/bin/python -m bench.import_organizations --rows 500 --rounds 2 --before DIR

Each measurement is a child process whose PYTHONPATH puts one tree's `fedicity` first; it makes
a database of its own on one embedded server, migrated by that tree's migrations. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ADMIN = "maire"


def _csv(rows: int) -> bytes:
    lines = ["titre;objet;siteweb"]
    lines += [
        f"Association numéro {n};Activités de quartier {n};asso{n}.example" for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def _child(server_dsn: str, database: str, rows: int) -> None:
    """One apply, in this interpreter's checkout; prints {"seconds": ...}."""
    import asyncpg

    from fedicity.accounts import service as accounts
    from fedicity.activitypub.keys import generate_rsa_keypair
    from fedicity.actors import queries as actor_queries
    from fedicity.audit.models import account_actor
    from fedicity.clock import SystemClock
    from fedicity.db.migrate import migrate
    from fedicity.db.pool import connect
    from fedicity.imports.organizations_csv import Importer, import_file
    from fedicity.organizations.service import Env
    from fedicity.urls import Urls

    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    head, sep, query = server_dsn.partition("?")
    dsn = f"{head.rsplit('/', 1)[0]}/{database}{sep}{query}"
    conn = await connect(dsn)
    try:
        await migrate(conn)
        account = await accounts.register(
            conn,
            username=ADMIN,
            password=secrets.token_urlsafe(16),
            keygen=generate_rsa_keypair,
            is_admin=True,
        )
        person = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert person is not None
        importer = Importer(
            by=account_actor(account.id, ADMIN),
            admin=person,
            keygen=generate_rsa_keypair,
            env=Env(Urls("https://ville.example"), SystemClock()),
        )
        started = time.perf_counter()
        plan, _ = await import_file(
            conn, _csv(rows), label="orgs.csv", mapping=None, importer=importer, dry_run=False
        )
        seconds = time.perf_counter() - started
        assert plan.applied
        assert plan.count("created") == rows
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.close()
    print(json.dumps({"seconds": seconds}))


async def _parent(args: argparse.Namespace, checkouts: dict[str, Path], script: Path) -> None:
    from bench.common import CAVEAT, figure, fresh_database, heading

    times: dict[str, list[float]] = {label: [] for label in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(Path(tmp), "bench_orgs") as database:
            heading(f"apply a CSV of {args.rows} new organisations (wall clock)")
            for round_number in range(args.rounds):
                for label, checkout in checkouts.items():
                    out = await asyncio.to_thread(
                        subprocess.run,
                        [
                            sys.executable,
                            str(script),
                            "--child",
                            database.dsn,
                            f"orgs_{label}_{round_number}",
                            "--rows",
                            str(args.rows),
                        ],
                        cwd=tmp,
                        env={**os.environ, "PYTHONPATH": str(checkout)},
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{label} failed:\n{out.stderr}")
                    seconds = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
                    times[label].append(seconds)
                    figure(f"{label} round {round_number + 1}", seconds, "s")
            heading("best of each")
            for label, values in times.items():
                figure(label, min(values), "s", f"{min(values) / args.rows * 1000:.1f} ms/row")
            if "before" in times:
                figure("before / after", min(times["before"]) / min(times["after"]), "x")
    print(f"\n{CAVEAT}")


def main() -> None:
    """Parse the arguments; run the parent, or one child measurement."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", help="another checkout (with its .venv) to compare with")
    parser.add_argument("--child", nargs=2, metavar=("SERVER_DSN", "DATABASE"))
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child[0], args.child[1], args.rows))
    else:
        here = Path.cwd()
        checkouts = {"after": here}
        if args.before:
            checkouts = {"before": Path(args.before).resolve(), "after": here}
        asyncio.run(_parent(args, checkouts, Path(__file__).resolve()))


if __name__ == "__main__":
    sys.exit(main())
