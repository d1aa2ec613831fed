"""Needs benchmark: what the needs panel costs an organisation's page, timed through the app
(Quart's test client, in process).

Run from the repository root (well under a minute with the defaults):

    .venv/bin/python -m bench.needs
    .venv/bin/python -m bench.needs --needs 20 --requests 20 --rounds 15

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- an association with --needs open needs (quantity and dates, so every line of the panel is
  drawn), and a logged-in citizen (who sees the offer form of each need);
- times the organisation page with its needs panel and, as the "before", with the panel left
  empty (what the page cost before needs existed, plus an empty section), alternating round by
  round in the same run; the need's page and the needs collection (ActivityStreams) too.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol

from bench.common import CAVEAT, FixedKeys, fresh_database, heading
from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection, Pool, create_pool
from fedicity.needs import service as needs
from fedicity.organizations import service as organizations
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.web import needs as web_needs
from fedicity.web import organizations as web_organizations
from fedicity.web.app import create_app

BASE = "http://bench.example"
PASSWORD = "correct horse battery staple"  # noqa: S105
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _seed(pool: Pool, count: int) -> str:
    """The association `velo` with `count` open needs; the first need's path."""
    urls, clock, keygen = Urls(BASE), SystemClock(), FixedKeys()
    async with pool.acquire() as conn:
        people = []
        for name in ("camille", "dominique"):
            account = await accounts.register(
                conn, username=name, password=PASSWORD, keygen=keygen, locale="fr"
            )
            found = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert found is not None
            people.append(found)
        velo = await organizations.create(
            conn,
            creator=people[0],
            username="velo",
            organization_kind="association",
            display_name="Vélo Montreuil",
            env=organizations.Env(urls=urls, clock=clock),
            keygen=keygen,
        )
        first = ""
        for number in range(count):
            need = await needs.create_need(
                conn,
                owner=velo,
                by=people[0],
                values=needs.need_input(
                    title=f"Des bénévoles pour l'atelier n° {number}",
                    description="Apportez vos **outils**.",
                    kind="volunteering",
                    quantity="6",
                    starts_on="2030-06-01",
                    ends_on="2030-06-30",
                ),
                env=needs.Env(urls=urls, clock=clock),
            )
            first = first or need.uri.removeprefix(BASE)
    return first


async def _log_in(client: TestClientProtocol) -> None:
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    answer = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "dominique", "password": PASSWORD}
    )
    assert answer.status_code == 303


async def _time(client: TestClientProtocol, path: str, count: int, accept: str) -> float:
    start = time.perf_counter()
    for _ in range(count):
        response = await client.get(path, headers={"Accept": accept})
        assert response.status_code == 200, (path, response.status_code)
        await response.get_data()
    return (time.perf_counter() - start) * 1000 / count


async def _empty_panel(
    conn: Connection, owner: Actor, me: Actor | None, urls: Urls
) -> web_needs.NeedsPanel:
    return web_needs.NeedsPanel(owner=owner, needs=[], helpers={})


async def _run(app: Quart, need_path: str, args: argparse.Namespace) -> None:
    html, activity = "text/html", "application/activity+json"
    times: dict[str, list[float]] = {"with": [], "without": [], "need": [], "collection": []}
    real = web_needs.needs_panel
    # The lever: the name the organisation page's view calls, swapped in place.
    view_globals = vars(web_organizations)
    async with app.test_app():
        client = app.test_client()
        await _log_in(client)
        await _time(client, "/organizations/velo", 5, html)  # warm-up
        for _ in range(args.rounds):
            for label, panel in (("with", real), ("without", _empty_panel)):
                view_globals["needs_panel"] = panel
                times[label].append(await _time(client, "/organizations/velo", args.requests, html))
            view_globals["needs_panel"] = real
            times["need"].append(await _time(client, need_path, args.requests, html))
            times["collection"].append(
                await _time(client, "/actors/velo/needs?page=true", args.requests, activity)
            )
    heading(
        f"Needs: an organisation with {args.needs} open needs, a logged-in citizen, "
        f"{args.requests} GETs x {args.rounds} rounds (median of the rounds' means)"
    )
    median = {label: statistics.median(took) for label, took in times.items()}
    print(f"  organisation page with its needs panel   {median['with']:8.2f} ms")
    print(f"  organisation page, panel empty (before)  {median['without']:8.2f} ms")
    print(f"  ratio with / before                      {median['with'] / median['without']:8.2f}")
    print(f"  a need's page                            {median['need']:8.2f} ms")
    print(f"  needs collection page (ActivityStreams)  {median['collection']:8.2f} ms")
    print(f"  ({CAVEAT})")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with fresh_database(tmp) as db:
            pool = await create_pool(db.dsn)
            try:
                need_path = await _seed(pool, args.needs)
                settings = Settings(
                    base_url=BASE,
                    listen="127.0.0.1:0",
                    data_dir=tmp,
                    secret_key="bench-secret-key-that-is-long-enough",  # noqa: S106
                )
                await _run(create_app(settings, pool=pool), need_path, args)
            finally:
                await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
