"""Secret ballots by default, nominal votes by choice (step 7).

Secret: no page, no ActivityStreams document, no notification says who voted what; each voter sees
their own choice. Nominal: voters are named (display name and handle) on the page and the
author hears of each vote. Every ballot here goes through the real forms or, for the remote
one, a signed Mastodon-shaped vote on the inbox; the instance serves région 11."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.proposals import queries
from fedicity.proposals.models import Proposal
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.web.app import AppState, create_app
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.territory_helpers import import_slice

PASSWORD = "correct horse battery staple"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
AS_JSON = "application/activity+json"
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
REMOTE = "https://vote.example/users/zoe_remote"
REMOTE_KEY = fixed_keypairs()[5]
MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "0017_ballots_markdown.sql"
# Who votes, as they must never show on a secret ballot: usernames and display names.
VOTERS = {"aline": "Aline Secrète", "basile": "Basile Discret"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def _page(response: Response) -> str:
    return html.unescape(await response.get_data(as_text=True))


async def _csrf(client: TestClientProtocol, path: str) -> str:
    match = _CSRF.search(await (await client.get(path)).get_data(as_text=True))
    assert match is not None, path
    return match.group(1)


async def _citizen(app: Quart, pool: Pool, keygen: FixedKeys, name: str) -> TestClientProtocol:
    """A citizen with an account, logged in on a client of their own."""
    async with pool.acquire() as conn:
        await accounts.register(
            conn,
            username=name,
            password=PASSWORD,
            keygen=keygen,
            display_name=VOTERS.get(name, name.capitalize()),
        )
    client = app.test_client()
    token = await _csrf(client, "/login")
    response = await client.post(
        "/login", form={"csrf_token": token, "login": name, "password": PASSWORD}
    )
    assert response.status_code == 303
    return client


async def _open_vote(client: TestClientProtocol, pool: Pool, **form: str) -> Proposal:
    """A proposal written through the form, its vote opened through the page."""
    token = await _csrf(client, "/proposals/new")
    response = await client.post(
        "/proposals",
        form={
            "csrf_token": token,
            "title": "Un marché le dimanche",
            "text": "Place du marché.",
            **form,
        },
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    path = response.headers["Location"]
    response = await client.post(
        path + "/state", form={"csrf_token": token, "action": "voting", "days": "7"}
    )
    assert response.status_code == 303
    async with pool.acquire() as conn:
        proposal = await queries.select_proposal_by_token(conn, path.rsplit("/", 1)[1])
    assert proposal is not None
    return proposal


async def _vote(client: TestClientProtocol, proposal: Proposal, *options: str) -> Response:
    token = await _csrf(client, f"/proposals/{proposal.token}")
    form = [("csrf_token", token), *(("option", option) for option in options)]
    return await client.post(
        f"/proposals/{proposal.token}/vote",
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def _remote_vote(
    app: Quart, pool: Pool, clock: FrozenClock, proposal: Proposal, option: str
) -> None:
    """A vote from another server, as Mastodon sends it, processed by the worker."""
    await seed_remote_actor(pool, REMOTE, REMOTE_KEY, clock.now())
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{REMOTE}#votes/1/activity",
        "type": "Create",
        "actor": REMOTE,
        "to": proposal.author_uri,
        "object": {
            "id": f"{REMOTE}#votes/1",
            "type": "Note",
            "attributedTo": REMOTE,
            "inReplyTo": proposal.uri,
            "name": option,
            "to": proposal.author_uri,
        },
    }
    response = await post_signed(
        app.test_client(),
        "/inbox",
        activity,
        key_id=REMOTE + "#main-key",
        keypair=REMOTE_KEY,
        now=clock.now(),
    )
    assert response.status_code == 202
    app_state: AppState = app.extensions["fedicity"]
    await process_batch(pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock)
    async with pool.acquire() as conn:
        tally = await queries.tally(conn, proposal.id)
    assert tally.federated_voters == 1


def _secret_leaks(text: str, *, allowed: str = "") -> list[str]:
    """Which voters' names, handles or ids show in `text` (but `allowed`, oneself)."""
    names = [REMOTE, "zoe_remote", "@someone@vote.example"]
    for username, display in VOTERS.items():
        if username != allowed:
            names += [username, display]
    return [name for name in names if name in text]


async def test_a_ballot_is_secret_by_default_and_nothing_says_who_voted_what(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given a proposal written with the form's defaults, and its vote open
    author = await _citizen(app, pool, keygen, "camille")
    form = await _page(await author.get("/proposals/new"))
    assert re.search(r'<input type="radio" name="ballot" value="secret" checked>', form)
    proposal = await _open_vote(author, pool)
    assert proposal.ballot == "secret"

    # When two citizens vote here and a third from another server
    aline = await _citizen(app, pool, keygen, "aline")
    basile = await _citizen(app, pool, keygen, "basile")
    assert (await _vote(aline, proposal, "Pour")).status_code == 303
    assert (await _vote(basile, proposal, "Contre")).status_code == 303
    await _remote_vote(app, pool, clock, proposal, "Pour")

    # Then the counts are public, and nothing anywhere names a voter
    path = f"/proposals/{proposal.token}"
    visitor = app.test_client()
    page = await _page(await visitor.get(path, headers={"Accept": BROWSER}))
    tally = re.findall(r'<span class="tally-figures">([^<]*)</span>', page)
    assert tally == ["1 vote · 50\xa0%", "1 vote · 50\xa0%", "0 vote · 0\xa0%"]
    assert (
        "Non compté : 1 vote venu d'un serveur qui n'est pas de confiance ici : vote.example"
        in (page)
    )
    assert 'class="voters"' not in page
    assert _secret_leaks(page) == []
    for reader in (author, visitor):
        for where in (path, "/proposals", f"{path}/replies", "/notifications"):
            for accept in (BROWSER, AS_JSON):
                text = await _page(await reader.get(where, headers={"Accept": accept}))
                assert _secret_leaks(text) == [], (where, accept)
    document = json.loads(await _page(await visitor.get(path, headers={"Accept": AS_JSON})))
    assert document["ballot"] == "secret"
    assert document["votersCount"] == 3
    assert [choice["replies"]["totalItems"] for choice in document["oneOf"]] == [2, 1, 0]
    # Nor what went out to other servers, nor the author's notifications
    async with pool.acquire() as conn:
        sent = await conn.fetch("SELECT raw FROM outbox_activities")
        notified = await conn.fetch("SELECT kind, actor_uri FROM notifications")
    assert _secret_leaks(json.dumps([row["raw"] for row in sent])) == []
    assert [row for row in notified if row["kind"] == "proposal_vote"] == []

    # And each voter sees their own choice, and only theirs
    own = await _page(await aline.get(path, headers={"Accept": BROWSER}))
    assert "Vous avez voté : Pour" in own
    assert _secret_leaks(own, allowed="aline") == []
    own = await _page(await basile.get(path, headers={"Accept": BROWSER}))
    assert "Vous avez voté : Contre" in own
    assert "Vous avez voté : Pour" not in own


async def test_a_nominal_vote_names_its_voters_and_tells_the_author(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    author = await _citizen(app, pool, keygen, "camille")
    proposal = await _open_vote(author, pool, ballot="nominal")
    assert proposal.ballot == "nominal"
    aline = await _citizen(app, pool, keygen, "aline")
    assert (await _vote(aline, proposal, "Pour")).status_code == 303
    await _remote_vote(app, pool, clock, proposal, "Contre")

    page = await _page(
        await app.test_client().get(f"/proposals/{proposal.token}", headers={"Accept": BROWSER})
    )
    voters = re.search(r'<ul class="voters">(.*?)</ul>', page, re.S)
    assert voters is not None
    # By display name and handle, linked, never by their actor id as text
    assert 'Aline Secrète</a> <span class="handle">@aline@fedicity.test</span></span>: Pour' in (
        voters.group(1)
    )
    # (the remote voter's document names them "someone")
    assert "@someone@vote.example" in voters.group(1)
    assert REMOTE not in re.sub(r'href="[^"]*"', "", voters.group(1))
    document = json.loads(
        await _page(
            await app.test_client().get(f"/proposals/{proposal.token}", headers={"Accept": AS_JSON})
        )
    )
    assert document["ballot"] == "nominal"
    assert document["anonymousVotes"] is False
    notifications = await _page(await author.get("/notifications"))
    assert "Aline Secrète" in notifications


async def test_existing_ballots_turn_secret_and_their_vote_notifications_go(
    pool: Pool, keygen: FixedKeys
) -> None:
    # What migration 0016 did to the proposals and notifications it found (replayed here on
    # rows written as before it: a public ballot and its notification)
    migration = MIGRATION.read_text()
    assert "DEFAULT 'secret'" in migration
    delete = migration[migration.index("DELETE FROM notifications") :].split(";", 1)[0]
    async with pool.acquire() as conn:
        actor_id = (await actor_service.create_person(conn, "camille", keygen=keygen)).id
        await conn.execute(
            """INSERT INTO proposals (uri, author_uri, title, options, published)
               VALUES ('http://fedicity.test/proposals/old', 'http://fedicity.test/actors/camille',
                       'Ancienne', '{Pour,Contre}', now())"""
        )
        for kind in ("proposal_vote", "proposal_comment"):
            await conn.execute(
                """INSERT INTO notifications (recipient_id, kind, actor_uri, object_uri,
                                              created_at)
                   VALUES ($1, $2, 'http://fedicity.test/actors/aline',
                           'http://fedicity.test/proposals/old', now())""",
                actor_id,
                kind,
            )
        assert await conn.fetchval("SELECT ballot FROM proposals") == "secret"
        await conn.execute(delete)
        left = await conn.fetch("SELECT kind FROM notifications")
    assert [row["kind"] for row in left] == ["proposal_comment"]


async def test_the_vote_form_puts_each_option_in_its_label_and_keeps_a_refused_choice(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    author = await _citizen(app, pool, keygen, "camille")
    proposal = await _open_vote(author, pool, options="Le parc\nLa place\nLe quai", multiple="on")
    aline = await _citizen(app, pool, keygen, "aline")
    page = await _page(await aline.get(f"/proposals/{proposal.token}"))
    form = page[page.index('<form method="post" action="/proposals/') :]
    form = form[: form.index("</form>")]
    # One fieldset with its legend; each box inside its own label, next to its words
    assert form.count("<fieldset") == 1
    assert "<legend>Votre vote (un ou plusieurs choix)</legend>" in form
    for option in ("Le parc", "La place", "Le quai"):
        assert re.search(
            rf'<label class="choice"><input type="checkbox" name="option" value="{option}">'
            rf" <span>{option}</span></label>",
            form,
        ), option
    # A ballot for no option comes back with the message in the fieldset
    response = await _vote(aline, proposal)
    assert response.status_code == 422
    refused = await _page(response)
    assert 'id="f-option-error"' in refused
    assert "Ce n'est pas l'une des options." in refused
    # A ballot for an unknown option too, the valid choices of it kept
    response = await _vote(aline, proposal, "Le parc", "Ailleurs")
    assert response.status_code == 422
    assert 'value="Le parc" checked' in await _page(response)
    # Two real choices are one ballot
    assert (await _vote(aline, proposal, "Le parc", "Le quai")).status_code == 303
    page = await _page(await aline.get(f"/proposals/{proposal.token}"))
    assert "Vous avez voté : Le parc, Le quai" in page
