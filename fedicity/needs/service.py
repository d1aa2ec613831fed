"""Needs and offers: an organisation's (or project's) admins publish, edit, close and delete its
needs; people offer to help, withdraw, and are accepted or declined. Each operation runs in the
caller's connection and publishes the activities it causes in the same transaction: Create,
Update and Delete of the need to the owner's followers; the Offer and its Undo to a remote owner;
the Accept or Reject to a remote helper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

from fedicity.activitypub.dates import format_datetime
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.needs import document, queries
from fedicity.needs.models import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_DESCRIPTION,
    MAX_MESSAGE,
    MAX_QUANTITY,
    MAX_TITLE,
    NEED_KINDS,
    NEED_STATES,
    Need,
    NeedData,
    NeedKind,
    NeedOffer,
    NeedState,
)
from fedicity.notifications.models import Kind
from fedicity.notifications.service import notify
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.service import Env, MembershipError, require_admin
from fedicity.sanitize import is_safe_link
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token

__all__ = ["Env", "NeedError", "NeedInput"]


class NeedError(DomainError):
    """A need or offer operation was refused; `code` says why, for messages and tests."""


@dataclass(frozen=True)
class NeedInput:
    """A need as an admin's form gives it, checked."""

    title: str
    description: str
    kind: NeedKind
    quantity: int | None
    starts_on: date | None
    ends_on: date | None


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 and char not in "\t\n\r" for char in text)


@lru_cache(maxsize=1)
def _link_reader() -> MarkdownIt:
    # Every destination is let through so that the check below sees them all: markdown-it's own
    # check would leave `javascript:` links as text silently, and the author would never know.
    reader = MarkdownIt("commonmark", {"linkify": False})
    reader.validateLink = lambda url: True  # type: ignore[method-assign]
    return reader


def unsafe_links(source: str) -> list[str]:
    """The link and image addresses of a Markdown text that are not http(s) or mailto."""
    found = []
    for token in _link_reader().parse(source):
        for child in token.children or []:
            href = child.attrGet("href") if child.type == "link_open" else None
            if child.type == "image":
                href = child.attrGet("src")
            if isinstance(href, str) and not is_safe_link(href):
                found.append(href)
    return found


def _date(raw: str, name: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) > 10:
        raise NeedError("need_date_invalid", f"{name} is a date such as 2026-12-31")
    try:
        day = date.fromisoformat(raw)
    except ValueError as error:
        raise NeedError("need_date_invalid", f"{name} is a date such as 2026-12-31") from error
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise NeedError("need_date_invalid", f"{name} is outside {FIRST_YEAR} to {LAST_YEAR}")
    return day


def need_input(
    *, title: str, description: str, kind: str, quantity: str, starts_on: str, ends_on: str
) -> NeedInput:
    """A form's texts checked into a NeedInput; NeedError says precisely what is wrong."""
    for text in (title, description, kind, quantity, starts_on, ends_on):
        if "\x00" in text or _has_control(text):
            raise NeedError("need_control_characters", "the form holds control characters")
    clean_title = " ".join(title.split())
    if not clean_title:
        raise NeedError("need_title_missing", "a need has a title")
    if len(clean_title) > MAX_TITLE:
        raise NeedError("need_title_too_long", f"a title has at most {MAX_TITLE} characters")
    if len(description) > MAX_DESCRIPTION:
        raise NeedError(
            "need_description_too_long", f"a description has at most {MAX_DESCRIPTION} characters"
        )
    if unsafe_links(description):
        raise NeedError("need_unsafe_link", "links are http(s) or mailto addresses")
    if kind not in NEED_KINDS:
        raise NeedError("need_kind_invalid", "choose a kind of need from the list")
    amount: int | None = None
    if quantity.strip():
        text = quantity.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 7):
            raise NeedError("need_quantity_invalid", f"a quantity is 1 to {MAX_QUANTITY}")
        amount = int(text)
        if not 1 <= amount <= MAX_QUANTITY:
            raise NeedError("need_quantity_invalid", f"a quantity is 1 to {MAX_QUANTITY}")
    starts = _date(starts_on, "the start")
    ends = _date(ends_on, "the end")
    if starts is not None and ends is not None and ends < starts:
        raise NeedError("need_dates_reversed", "a need cannot end before it starts")
    chosen = next(known for known in NEED_KINDS if known == kind)
    return NeedInput(clean_title, description, chosen, amount, starts, ends)


async def _admin(conn: Connection, owner: Actor, by: Actor, env: Env) -> None:
    try:
        await require_admin(conn, owner, by, env.urls)
    except MembershipError as refused:
        raise NeedError(refused.code, refused.detail) from refused


async def _publish_need(conn: Connection, kind: str, need: Need, owner: Actor, env: Env) -> None:
    if kind == "Delete":
        carried: Any = document.tombstone(need.uri)
    else:
        carried = document.need_to_ap(need, env.urls, with_context=False)
    await publish(
        conn,
        actor=owner,
        activity=document.need_activity(
            kind, need, env.urls, id=env.urls.activity(new_token()), object=carried
        ),
        audience=Audience(followers=True),
        urls=env.urls,
        clock=env.clock,
    )


def _data(
    owner: Actor, values: NeedInput, *, uri: str, token: str, state: NeedState, env: Env
) -> NeedData:
    return NeedData(
        uri=uri,
        owner_uri=env.urls.actor(owner.username),
        title=values.title,
        description_html=render_markdown(values.description),
        kind=values.kind,
        quantity=values.quantity,
        starts_on=values.starts_on,
        ends_on=values.ends_on,
        state=state,
        token=token,
        local_owner_id=owner.id,
        description_source=values.description,
    )


async def create_need(
    conn: Connection, *, owner: Actor, by: Actor, values: NeedInput, env: Env
) -> Need:
    """An admin of the owner publishes a need (Create to the owner's followers)."""
    await _admin(conn, owner, by, env)
    token = new_token()
    uri = env.urls.project_need(env.urls.actor(owner.username), token)
    async with conn.transaction():
        need, _new = await queries.upsert_need(
            conn, _data(owner, values, uri=uri, token=token, state="open", env=env), env.clock.now()
        )
        await _publish_need(conn, "Create", need, owner, env)
    return need


async def update_need(
    conn: Connection, *, need: Need, owner: Actor, by: Actor, values: NeedInput, env: Env
) -> Need:
    """An admin edits a need (Update to the followers)."""
    await _admin(conn, owner, by, env)
    _require_owned(need, owner)
    assert need.token is not None
    async with conn.transaction():
        updated, _new = await queries.upsert_need(
            conn,
            _data(owner, values, uri=need.uri, token=need.token, state=need.state, env=env),
            env.clock.now(),
        )
        await _publish_need(conn, "Update", updated, owner, env)
    return updated


def _require_owned(need: Need, owner: Actor) -> None:
    if need.local_owner_id != owner.id or need.deleted_at is not None:
        raise NeedError("need_not_found", "no such need of this organisation")


async def set_state(
    conn: Connection, *, need: Need, owner: Actor, by: Actor, state: str, env: Env
) -> Need:
    """An admin marks a need fulfilled, closes it or opens it again (Update to the followers)."""
    await _admin(conn, owner, by, env)
    _require_owned(need, owner)
    if state not in NEED_STATES:
        raise NeedError("need_state_invalid", "a need is open, fulfilled or closed")
    async with conn.transaction():
        await queries.update_state(conn, need.id, state, env.clock.now())
        changed = await queries.select_need(conn, need.uri)
        assert changed is not None
        await _publish_need(conn, "Update", changed, owner, env)
    return changed


async def delete_need(conn: Connection, *, need: Need, owner: Actor, by: Actor, env: Env) -> None:
    """An admin deletes a need (Delete with a Tombstone to the followers)."""
    await _admin(conn, owner, by, env)
    _require_owned(need, owner)
    async with conn.transaction():
        await queries.mark_deleted(conn, need.id, env.clock.now())
        await _publish_need(conn, "Delete", need, owner, env)


# --- offers ------------------------------------------------------------------------------------


async def owner_admins(conn: Connection, owner_id: int) -> list[str]:
    """The URIs of an organisation's (or project's) accepted admins: who hears of offers."""
    members = await organization_queries.select_memberships(conn, owner_id, limit=200)
    return [m.member_uri for m in members if m.is_admin]


async def tell_admins(
    conn: Connection, need: Need, *, helper_uri: str, kind: Kind, env: Env
) -> None:
    """Notify each admin of a local need's owner that `helper_uri` did `kind` about it."""
    assert need.local_owner_id is not None
    for admin in await owner_admins(conn, need.local_owner_id):
        await notify(
            conn,
            recipient=admin,
            kind=kind,
            actor_uri=helper_uri,
            object_uri=need.uri,
            urls=env.urls,
            clock=env.clock,
        )


def _check_message(message: str) -> str:
    if "\x00" in message or _has_control(message):
        raise NeedError("need_control_characters", "the message holds control characters")
    text = message.strip()
    if len(text) > MAX_MESSAGE:
        raise NeedError("offer_too_long", f"a message has at most {MAX_MESSAGE} characters")
    return text


async def offer_help(
    conn: Connection, *, need: Need, helper: Actor, message: str, env: Env
) -> NeedOffer:
    """A local person offers to help: a pending offer, the owner's admins told (a local need) or
    an Offer sent to the owner (a remote need)."""
    text = _check_message(message)
    if need.deleted_at is not None:
        raise NeedError("need_not_found", "this need was deleted")
    if need.state != "open":
        raise NeedError("need_not_open", "this need no longer takes offers")
    if helper.kind != "person":
        raise NeedError("offer_not_person", "people offer to help, not organisations")
    helper_uri = env.urls.actor(helper.username)
    activity_uri = env.urls.activity(new_token())
    async with conn.transaction():
        offered = await queries.insert_offer(
            conn,
            need_id=need.id,
            helper_uri=helper_uri,
            message=text,
            activity_uri=activity_uri,
            now=env.clock.now(),
        )
        if offered is None:
            raise NeedError("offer_exists", "you already offered to help with this need")
        if need.is_local:
            await tell_admins(conn, need, helper_uri=helper_uri, kind="need_offer", env=env)
        else:
            await publish(
                conn,
                actor=helper,
                activity=document.offer(
                    id=activity_uri,
                    helper_uri=helper_uri,
                    need_uri=need.uri,
                    owner_uri=need.owner_uri,
                    message=text,
                    published=format_datetime(env.clock.now()),
                ),
                audience=Audience(frozenset({need.owner_uri})),
                urls=env.urls,
                clock=env.clock,
            )
    return offered


def _embedded(need: Need, offer: NeedOffer) -> dict[str, Any]:
    return document.embedded_offer(
        id=offer.activity_uri,
        helper_uri=offer.helper_uri,
        need_uri=need.uri,
        owner_uri=need.owner_uri,
        message=offer.message,
    )


async def withdraw_offer(conn: Connection, *, need: Need, helper: Actor, env: Env) -> NeedOffer:
    """A local helper withdraws their standing offer (Undo(Offer) to a remote owner)."""
    helper_uri = env.urls.actor(helper.username)
    async with conn.transaction():
        offer = await queries.select_live_offer(conn, need.id, helper_uri)
        if offer is None:
            raise NeedError("offer_missing", "you have no standing offer on this need")
        await queries.update_offer_state(conn, offer.id, "withdrawn", env.clock.now())
        if not need.is_local:
            await publish(
                conn,
                actor=helper,
                activity=document.undo_offer(
                    id=env.urls.activity(new_token()),
                    helper_uri=helper_uri,
                    offer_activity=_embedded(need, offer),
                ),
                audience=Audience(frozenset({need.owner_uri})),
                urls=env.urls,
                clock=env.clock,
            )
    found = await queries.select_offer(conn, offer.id)
    assert found is not None
    return found


async def answer_offer(
    conn: Connection,
    *,
    need: Need,
    owner: Actor,
    by: Actor,
    offer_id: int,
    accept: bool,
    env: Env,
) -> NeedOffer:
    """An admin accepts or declines a pending offer: the helper is told (notified here, or sent
    an Accept or Reject embedding their Offer)."""
    await _admin(conn, owner, by, env)
    _require_owned(need, owner)
    async with conn.transaction():
        offer = await queries.select_offer(conn, offer_id)
        if offer is None or offer.need_id != need.id:
            raise NeedError("offer_missing", "no such offer on this need")
        if offer.state != "pending":
            raise NeedError("offer_not_pending", "this offer was already answered or withdrawn")
        await queries.update_offer_state(
            conn, offer.id, "accepted" if accept else "declined", env.clock.now()
        )
        owner_uri = env.urls.actor(owner.username)
        await notify(
            conn,
            recipient=offer.helper_uri,
            kind="need_offer_accepted" if accept else "need_offer_declined",
            actor_uri=owner_uri,
            object_uri=need.uri,
            urls=env.urls,
            clock=env.clock,
        )
        if not offer.helper_uri.startswith(env.urls.actor("")):
            await publish(
                conn,
                actor=owner,
                activity=document.offer_answer(
                    id=env.urls.activity(new_token()),
                    owner_uri=owner_uri,
                    offer_activity=_embedded(need, offer),
                    helper_uri=offer.helper_uri,
                    accept=accept,
                ),
                audience=Audience(frozenset({offer.helper_uri})),
                urls=env.urls,
                clock=env.clock,
            )
        answered = await queries.select_offer(conn, offer.id)
    assert answered is not None
    return answered
