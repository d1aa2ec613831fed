"""Needs on one instance: a local person offers to help, withdraws, offers again and is declined;
hostile forms get precise refusals; remote needs and offers through the signed inbox are checked
before anything is kept (parse.py refuses absurd ones, each with its reason)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.needs import queries, service
from fedicity.needs.parse import Refused, parse_need, parse_offer
from fedicity.needs.service import Env, NeedError
from fedicity.notifications import queries as notification_queries
from fedicity.organizations import service as organizations
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

URLS = Urls("http://fedicity.test")
PASSWORD = "correct horse battery staple"
AP = "application/activity+json"
ALICE = "https://mobilizon.invalid/users/alice"
ALICE_KEYS = fixed_keypairs()[3]
# On Alice's server: only the owner check stands between Bob and Alice's needs.
BOB = "https://mobilizon.invalid/users/bob"
BOB_KEYS = fixed_keypairs()[4]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _people(pool: Pool, keygen: FixedKeys, clock: FrozenClock) -> tuple[Actor, ...]:
    """Camille (admin of `velo`), Dominique (a citizen), and `velo`."""
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
            keygen=keygen,
            env=organizations.Env(urls=URLS, clock=clock),
        )
    return people[0], people[1], velo


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    found = CSRF.search(page)
    assert found is not None
    answer = await client.post(
        "/login", form={"csrf_token": found.group(1), "login": username, "password": PASSWORD}
    )
    assert answer.status_code == 303
    page = await (await client.get("/settings")).get_data(as_text=True)
    found = CSRF.search(page)
    assert found is not None
    return found.group(1)


def _form(**values: str) -> dict[str, str]:
    base = {
        "title": "Des gilets",
        "description": "",
        "kind": "material",
        "quantity": "",
        "starts_on": "",
        "ends_on": "",
    }
    return {**base, **values}


async def test_a_local_helper_offers_withdraws_offers_again_and_is_declined(
    app: Quart, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    camille, dominique, velo = await _people(pool, keygen, clock)
    env = Env(urls=URLS, clock=clock)
    async with pool.acquire() as conn:
        need = await service.create_need(
            conn,
            owner=velo,
            by=camille,
            values=service.need_input(**_form(title="Des gilets jaunes", quantity="12")),
            env=env,
        )
        # Only the owner's admins publish
        with pytest.raises(NeedError) as refused:
            await service.create_need(
                conn, owner=velo, by=dominique, values=service.need_input(**_form()), env=env
            )
        assert refused.value.code == "not_admin"
    assert need.token is not None
    need_path = f"/actors/velo/needs/{need.token}"

    # Dominique sees the need on the organisation's page with the offer form
    visitor = app.test_client()
    csrf = await _log_in(visitor, "dominique")
    page = await (await visitor.get("/organizations/velo")).get_data(as_text=True)
    assert "Des gilets jaunes" in page
    assert "Quantité : 12" in page
    assert "0 personne aide" in page
    assert f'action="{need_path}/offer"' in page
    assert "Publier un besoin" not in page  # not an admin

    # Offers, once: a second live offer is refused
    offered = await visitor.post(
        f"{need_path}/offer", form={"csrf_token": csrf, "message": "Je peux en coudre"}
    )
    assert offered.status_code == 303
    again = await visitor.post(f"{need_path}/offer", form={"csrf_token": csrf, "message": ""})
    assert again.status_code == 409
    page = await (await visitor.get(need_path)).get_data(as_text=True)
    assert "attend une réponse" in page
    assert "Retirer ma proposition" in page
    async with pool.acquire() as conn:
        told = await notification_queries.select_page(conn, camille.id, limit=5)
    assert [(n.kind, n.actor_uri) for n in told] == [("need_offer", URLS.actor("dominique"))]

    # Withdraws, then offers again (a withdrawn offer is no live one)
    withdrawn = await visitor.post(f"{need_path}/offer", form={"csrf_token": csrf, "withdraw": "1"})
    assert withdrawn.status_code == 303
    assert "notice=withdrawn" in withdrawn.headers["Location"]
    nothing = await visitor.post(f"{need_path}/offer", form={"csrf_token": csrf, "withdraw": "1"})
    assert nothing.status_code == 404
    assert (
        await visitor.post(f"{need_path}/offer", form={"csrf_token": csrf, "message": "Encore"})
    ).status_code == 303
    async with pool.acquire() as conn:
        offers = await queries.select_offers(
            conn, need.id, states=("pending", "withdrawn"), limit=10
        )
    assert [(o.state, o.message) for o in offers] == [
        ("withdrawn", "Je peux en coudre"),
        ("pending", "Encore"),
    ]
    # Dominique cannot answer offers
    forbidden = await visitor.post(
        f"{need_path}/offers/{offers[1].id}", form={"csrf_token": csrf, "decision": "accept"}
    )
    assert forbidden.status_code == 403

    # Camille declines it: Dominique is told, nobody is listed as helping, nothing federates
    admin = app.test_client()
    admin_csrf = await _log_in(admin, "camille")
    admin_page = await (await admin.get(need_path)).get_data(as_text=True)
    assert "Encore" in admin_page
    declined = await admin.post(
        f"{need_path}/offers/{offers[1].id}", form={"csrf_token": admin_csrf, "decision": "decline"}
    )
    assert declined.status_code == 303
    async with pool.acquire() as conn:
        told = await notification_queries.select_page(conn, dominique.id, limit=5)
        outbox = await conn.fetch("SELECT type FROM outbox_activities ORDER BY id")
    assert [(n.kind, n.actor_uri) for n in told] == [("need_offer_declined", URLS.actor("velo"))]
    assert [row["type"] for row in outbox] == ["Create"]  # offers on our needs stay here
    assert "Personne n" in await (await visitor.get(need_path)).get_data(as_text=True)

    # Camille edits it: the form shows what was typed, the change goes out as an Update
    form_page = await (await admin.get(f"{need_path}/edit")).get_data(as_text=True)
    assert 'value="Des gilets jaunes"' in form_page
    assert (await visitor.get(f"{need_path}/edit")).status_code == 403
    edited = await admin.post(
        f"{need_path}/edit",
        form={"csrf_token": admin_csrf, **_form(title="Des gilets jaunes", quantity="20")},
    )
    assert edited.status_code == 303
    async with pool.acquire() as conn:
        changed = await queries.select_need(conn, need.uri)
        updates = await conn.fetch("SELECT raw FROM outbox_activities WHERE type = 'Update'")
    assert changed is not None
    assert changed.quantity == 20
    assert [row["raw"]["object"]["quantity"] for row in updates] == [20]

    # The collection and the need's document, for servers
    collection = await (await visitor.get("/actors/velo/needs", headers={"Accept": AP})).json
    assert collection["type"] == "OrderedCollection"
    assert collection["totalItems"] == 1
    document = await (await visitor.get(need_path, headers={"Accept": AP})).json
    assert (document["type"], document["kind"], document["needKind"]) == (
        "Page",
        "Need",
        "material",
    )
    assert "startTime" not in document
    assert (
        await visitor.get("/actors/velo/needs?page=true&cursor=-1", headers={"Accept": AP})
    ).status_code == 400
    browser = await visitor.get("/actors/velo/needs")
    assert browser.status_code == 303
    assert browser.headers["Location"].endswith("/organizations/velo#needs")


async def test_hostile_need_forms_get_precise_refusals(
    app: Quart, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await _people(pool, keygen, clock)
    admin = app.test_client()
    csrf = await _log_in(admin, "camille")

    async def post(**values: str) -> tuple[int, str]:
        answer = await admin.post(
            "/actors/velo/needs/new", form={"csrf_token": csrf, **_form(**values)}
        )
        return answer.status_code, await answer.get_data(as_text=True)

    cases: list[tuple[dict[str, str], int, str]] = [
        ({"description": "[clic](javascript:alert(1))"}, 422, "adresses web (http, https)"),
        ({"description": "<JaVaScRiPt:alert(1)>"}, 422, "adresses web (http, https)"),
        ({"description": "![x](data:image/png;base64,AAAA)"}, 422, "adresses web"),
        ({"quantity": "-1"}, 422, "de 1 à 1000000"),
        ({"quantity": str(10**30)}, 422, "de 1 à 1000000"),
        ({"quantity": "0"}, 422, "de 1 à 1000000"),
        ({"quantity": "²"}, 422, "de 1 à 1000000"),
        ({"title": "x" * 10_000}, 422, "au plus 200 caractères"),
        ({"title": "   "}, 422, "un besoin a un titre"),
        ({"title": "a\x07b"}, 422, "caractères de contrôle"),
        ({"description": "y" * 10_001}, 422, "au plus 10000 caractères"),
        ({"kind": "weapons"}, 422, "type de besoin"),
        ({"starts_on": "2026-12-20", "ends_on": "2026-12-01"}, 422, "finir avant de commencer"),
        ({"ends_on": "99999-01-01"}, 422, "entre les années 2000 et 2100"),
        ({"ends_on": "1900-01-01"}, 422, "entre les années 2000 et 2100"),
        ({"ends_on": "demain"}, 422, "entre les années 2000 et 2100"),
        ({"title": "nul\x00"}, 400, "NUL"),
    ]
    for values, status, words in cases:
        got, body = await post(**values)
        assert (values, got) == (values, status)
        assert words in body, (values, body[:300])
    async with pool.acquire() as conn:
        assert await queries.count_owner_needs(conn, URLS.actor("velo")) == 0

    # A sound one is kept, its Markdown rendered and sanitised; then the other forms are attacked
    status, _body = await post(description="**Merci** <script>alert(1)</script>", quantity="3")
    assert status == 303
    async with pool.acquire() as conn:
        (need,) = await queries.select_owner_needs(
            conn, URLS.actor("velo"), states=("open",), limit=5
        )
    assert (
        need.description_html
        == "<p><strong>Merci</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    path = f"/actors/velo/needs/{need.token}"
    bad_state = await admin.post(f"{path}/state", form={"csrf_token": csrf, "state": "gone"})
    assert bad_state.status_code == 422
    bad_decision = await admin.post(f"{path}/offers/1", form={"csrf_token": csrf, "decision": "x"})
    assert bad_decision.status_code == 422
    no_offer = await admin.post(
        f"{path}/offers/999", form={"csrf_token": csrf, "decision": "accept"}
    )
    assert no_offer.status_code == 404
    too_long = await admin.post(f"{path}/offer", form={"csrf_token": csrf, "message": "m" * 2001})
    assert too_long.status_code == 422
    assert (await admin.get("/actors/velo/needs/" + "t" * 65)).status_code == 404
    assert (await admin.get("/actors/nobody/needs")).status_code == 404
    assert (await admin.get("/actors/camille/needs/new")).status_code == 404
    assert (await admin.get("/needs/remote?uri=javascript:alert(1)")).status_code == 400
    assert (await admin.get("/needs/remote?uri=https://x.invalid/n")).status_code == 404
    # Closed: no more offers
    await admin.post(f"{path}/state", form={"csrf_token": csrf, "state": "closed"})
    closed = await admin.post(f"{path}/offer", form={"csrf_token": csrf, "message": ""})
    assert closed.status_code == 409


def _need_page(**members: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "https://mobilizon.invalid/needs/1",
        "type": "Page",
        "kind": "Need",
        "name": "Des tables",
        "content": "<p>Pour la fête</p>",
        "attributedTo": ALICE,
        "quantity": 4,
        "needKind": "material",
        "startTime": "2026-12-01T00:00:00Z",
        "endTime": "2026-12-24T23:59:59+01:00",
    }
    document.update(members)
    return {key: value for key, value in document.items() if value is not None}


async def test_remote_needs_and_offers_are_checked_before_they_are_kept(
    app: Quart, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # parse.py: each absurd remote need refused with its reason
    refusals: dict[str, list[dict[str, Any]]] = {
        "quantity is outside 1 to 1000000": [{"quantity": -1}, {"quantity": 10**30}],
        "quantity is not a whole number": [
            {"quantity": True},
            {"quantity": "4"},
            {"quantity": 2.5},
        ],
        "the need ends before it starts": [{"endTime": "2026-11-01T00:00:00Z"}],
        "endTime is outside the years 2000 to 2100": [{"endTime": "9000-01-01T00:00:00Z"}],
        "startTime is not a date and time with a zone": [{"startTime": "2026-12-01"}],
        "the need's name is longer than 200 characters": [{"name": "n" * 10_000}],
        "the need has no name": [{"name": None}, {"name": ["a"]}, {"name": " "}],
        "the need holds control characters": [{"name": "a\x00b"}, {"content": "x\x00"}],
        "the need's content is longer than 50000 characters": [{"content": "c" * 50_001}],
        "the need is not attributed to the activity's actor": [{"attributedTo": URLS.actor("x")}],
        "the need's id is not an http(s) URL": [{"id": "javascript:alert(1)"}],
        "the need's id is not on its owner's server": [{"id": "https://other.invalid/needs/1"}],
        "not a Page of kind Need": [{"kind": "Article"}, {"type": "Note"}],
    }
    for reason, variants in refusals.items():
        for members in variants:
            assert parse_need(_need_page(**members), actor_uri=ALICE) == Refused(reason), members
    kept = parse_need(_need_page(needKind="weapons", needState="sold"), actor_uri=ALICE)
    assert not isinstance(kept, Refused)
    assert (kept.kind, kept.state, kept.quantity) == ("other", "open", 4)
    assert (str(kept.starts_on), str(kept.ends_on)) == ("2026-12-01", "2026-12-24")
    assert parse_offer({"id": "x", "actor": ALICE, "object": "y"}, actor_uri=ALICE) == Refused(
        "the Offer's id is not an http(s) URL"
    )

    # Through the signed inbox: nobody follows Alice yet, so her need is not kept; then it is
    camille, _dominique, velo = await _people(pool, keygen, clock)
    await seed_remote_actor(pool, ALICE, ALICE_KEYS, clock.now())
    await seed_remote_actor(pool, BOB, BOB_KEYS, clock.now())
    client = app.test_client()
    state: AppState = app.extensions["fedicity"]

    async def receive(activity: dict[str, Any]) -> str:
        signer, keys = (BOB, BOB_KEYS) if activity["actor"] == BOB else (ALICE, ALICE_KEYS)
        answer = await post_signed(
            client,
            "/inbox",
            activity,
            key_id=signer + "#main-key",
            keypair=keys,
            now=clock.now(),
        )
        assert answer.status_code == 202, await answer.get_data(as_text=True)
        await process_batch(
            pool, directory=state.fed.directory, urls=URLS, clock=clock, keygen=keygen
        )
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1",
                activity["id"],
            )
        assert row is not None
        return f"{row['state']}: {row['last_error'] or ''}"

    def create(number: int, **members: Any) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{ALICE}/create/{number}",
            "type": "Create",
            "actor": ALICE,
            "object": _need_page(**members),
        }

    assert await receive(create(1)) == "ignored: nobody here follows the need's owner"
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=URLS.actor("camille"),
            followee=ALICE,
            activity_uri=URLS.actor("camille") + "#f",
            accepted=True,
            now=clock.now(),
        )
    assert await receive(create(2, quantity=10**30)) == "ignored: quantity is outside 1 to 1000000"
    assert await receive(create(3)) == "done: need stored"
    # Another remote actor cannot rewrite Alice's need
    hijack = create(9, attributedTo=BOB, name="Plus rien")
    hijack.update(actor=BOB, id=f"{BOB}/create/9")
    assert await receive(hijack) == "ignored: only the need's owner changes it"
    async with pool.acquire() as conn:
        still = await queries.select_need(conn, "https://mobilizon.invalid/needs/1")
    assert still is not None
    assert still.title == "Des tables"
    # A Page that is no need stays a post
    article = create(4, kind=None, id="https://mobilizon.invalid/articles/1")
    assert (await receive(article)).startswith("done")
    async with pool.acquire() as conn:
        assert await queries.select_need(conn, "https://mobilizon.invalid/articles/1") is None
        assert await conn.fetchval(
            "SELECT count(*) FROM posts WHERE uri = 'https://mobilizon.invalid/articles/1'"
        )
    async with pool.acquire() as conn:
        stored = await queries.select_need(conn, "https://mobilizon.invalid/needs/1")
    assert stored is not None
    assert stored.raw is not None
    assert stored.raw["quantity"] == 4
    page = await (await client.get("/needs/remote?uri=https://mobilizon.invalid/needs/1")).get_data(
        as_text=True
    )
    assert "Des tables" in page
    assert "Pour la fête" in page

    # Offers to our needs: to an open one, kept once; to anything else, ignored with the reason
    async with pool.acquire() as conn:
        ours = await service.create_need(
            conn,
            owner=velo,
            by=camille,
            values=service.need_input(**_form()),
            env=Env(urls=URLS, clock=clock),
        )

    def offer(number: int, need_uri: str, content: Any = "<p>Je viens</p>") -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{ALICE}/offer/{number}",
            "type": "Offer",
            "actor": ALICE,
            "object": need_uri,
            "content": content,
            "to": [URLS.actor("velo")],
        }

    assert await receive(offer(1, stored.uri)) == "ignored: the Offer names no need of ours"
    assert await receive(offer(2, ours.uri, content={"x": 1})) == (
        "ignored: the Offer's content is not text"
    )
    assert await receive(offer(3, ours.uri)) == "done: offer recorded"
    assert await receive(offer(4, ours.uri)) == (
        "ignored: this helper already has a standing offer on this need"
    )
    undo = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ALICE}/undo/1",
        "type": "Undo",
        "actor": ALICE,
        "object": {k: v for k, v in offer(3, ours.uri).items() if k != "@context"},
    }
    assert await receive(undo) == "done: offer withdrawn"
    async with pool.acquire() as conn:
        (withdrawn,) = await queries.select_offers(conn, ours.id, states=("withdrawn",), limit=5)
    assert (withdrawn.helper_uri, withdrawn.message) == (ALICE, "Je viens")
    # An Undo naming the Offer by its id only (no type to route on) withdraws it too
    assert await receive(offer(6, ours.uri)) == "done: offer recorded"
    bare_undo = {**undo, "id": f"{ALICE}/undo/2", "object": f"{ALICE}/offer/6"}
    assert await receive(bare_undo) == "done: offer withdrawn"
    # A remote owner cannot rewrite or delete our need
    forged = create(5, id=ours.uri, attributedTo=ALICE)
    assert await receive(forged) == "ignored: the need's id is not on its owner's server"
    delete = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ALICE}/delete/1",
        "type": "Delete",
        "actor": ALICE,
        "object": ours.uri,
    }
    assert await receive(delete) == "ignored: only the need's owner deletes it"
