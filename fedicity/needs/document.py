"""Ours -> ActivityStreams: a need as a `Page` with fedicity's terms (`kind: "Need"`,
`quantity`, `startTime`/`endTime`) whose `content` says the essentials in words for Mastodon;
the Offer a helper sends, the owner's Accept or Reject of it, the helper's Undo; the owner's
needs collection. Pure: the callers read the database and publish."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.needs.models import Need, NeedKind, NeedState
from fedicity.textfmt import plain_to_html, title_html
from fedicity.urls import Urls

NEED_TYPE = "Page"
# The `kind` that tells our Page from an article: the fc: term of the shared context.
NEED_KIND = "Need"
# fedicity's own members of a need, spelled inline too, for readers that skip JSON-LD.
NEED_TERMS: dict[str, Any] = {
    "fc": "https://fedicity.org/ns#",
    "kind": "fc:kind",
    "Need": "fc:Need",
    "quantity": "fc:quantity",
    "needKind": "fc:needKind",
    "needState": "fc:needState",
}
# The words of the content, in French: the instance's public language, as events' polls.
KIND_WORDS: dict[NeedKind, str] = {
    "material": "matériel",
    "skill": "compétence",
    "service": "service",
    "volunteering": "bénévolat",
    "money": "financement",
    "other": "autre",
}
STATE_WORDS: dict[NeedState, str] = {
    "open": "",
    "fulfilled": "Besoin satisfait, merci !",
    "closed": "Besoin clos.",
}
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def need_context(urls: Urls) -> list[Any]:
    """The @context of our need documents."""
    return [AS_CONTEXT, urls.context, NEED_TERMS]


def day_words(day: date) -> str:
    """A day in French words: 5 décembre 2026."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _start_time(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _end_time(day: date) -> str:
    # The whole last day counts: a need "until the 20th" still stands on the 20th.
    return f"{day.isoformat()}T23:59:59Z"


def essentials_html(need: Need) -> str:
    """What, how many, when, and where to offer help, in a paragraph Mastodon shows."""
    parts = [f"Besoin ({KIND_WORDS[need.kind]})"]
    if need.quantity is not None:
        parts.append(f"quantité : {need.quantity}")
    if need.starts_on is not None and need.ends_on is not None:
        parts.append(f"du {day_words(need.starts_on)} au {day_words(need.ends_on)}")
    elif need.ends_on is not None:
        parts.append(f"jusqu'au {day_words(need.ends_on)}")
    elif need.starts_on is not None:
        parts.append(f"à partir du {day_words(need.starts_on)}")
    link = escape(need.uri)
    lines = [escape(" · ".join(parts))]
    if need.state == "open":
        lines.append(f'Proposer son aide : <a href="{link}">{link}</a>')
    else:
        lines.append(escape(STATE_WORDS[need.state]))
    return "<p>" + "<br>".join(lines) + "</p>"


def need_to_ap(need: Need, urls: Urls, *, with_context: bool = True) -> dict[str, Any]:
    """A local need as a `Page` of kind Need, attributed to its owner."""
    document: dict[str, Any] = {
        "id": need.uri,
        "type": NEED_TYPE,
        "kind": NEED_KIND,
        "name": need.title,
        "content": title_html(need.title) + essentials_html(need) + need.description_html,
        "mediaType": "text/html",
        "needKind": need.kind,
        "needState": need.state,
        "attributedTo": need.owner_uri,
        "audience": need.owner_uri,
        "context": need.owner_uri,
        "url": need.uri,
        "published": format_datetime(need.created_at),
        "updated": format_datetime(need.updated_at),
        "to": [PUBLIC],
        "cc": [urls.followers_of(need.owner_uri)],
    }
    if need.quantity is not None:
        document["quantity"] = need.quantity
    if need.starts_on is not None:
        document["startTime"] = _start_time(need.starts_on)
    if need.ends_on is not None:
        document["endTime"] = _end_time(need.ends_on)
    if need.description_source is not None:
        document["source"] = {"content": need.description_source, "mediaType": "text/markdown"}
    if with_context:
        document = {"@context": need_context(urls), **document}
    return document


def need_activity(kind: str, need: Need, urls: Urls, *, id: str, object: Any) -> dict[str, Any]:
    """A Create, Update or Delete of a need by its owner, to the public and its followers."""
    return activity(
        kind,
        id=id,
        actor=need.owner_uri,
        object=object,
        to=[PUBLIC],
        cc=[urls.followers_of(need.owner_uri)],
        context=need_context(urls),
        audience=need.owner_uri,
    )


def tombstone(uri: str) -> dict[str, Any]:
    """What a Delete carries of a deleted need."""
    return {"id": uri, "type": "Tombstone", "formerType": NEED_TYPE}


def offer(
    *, id: str, helper_uri: str, need_uri: str, owner_uri: str, message: str, published: str
) -> dict[str, Any]:
    """A helper's Offer to help with a need, to the need's owner."""
    return activity(
        "Offer",
        id=id,
        actor=helper_uri,
        object=need_uri,
        to=[owner_uri],
        published=published,
        content=plain_to_html(message) if message else None,
        target=owner_uri,
    )


def offer_answer(
    *, id: str, owner_uri: str, offer_activity: dict[str, Any], helper_uri: str, accept: bool
) -> dict[str, Any]:
    """The owner's Accept (or Reject) of an Offer, embedding it so the helper's server can route
    the answer without fetching anything."""
    embedded = {key: value for key, value in offer_activity.items() if key != "@context"}
    return activity(
        "Accept" if accept else "Reject",
        id=id,
        actor=owner_uri,
        object=embedded,
        to=[helper_uri],
    )


def undo_offer(*, id: str, helper_uri: str, offer_activity: dict[str, Any]) -> dict[str, Any]:
    """The helper withdraws an Offer (Undo embedding it)."""
    embedded = {key: value for key, value in offer_activity.items() if key != "@context"}
    to = [str(uri) for uri in embedded.get("to", [])]
    return activity("Undo", id=id, actor=helper_uri, object=embedded, to=to)


def embedded_offer(
    *, id: str, helper_uri: str, need_uri: str, owner_uri: str, message: str
) -> dict[str, Any]:
    """An Offer as an Accept, Reject or Undo embeds it when only its row is at hand."""
    document = offer(
        id=id,
        helper_uri=helper_uri,
        need_uri=need_uri,
        owner_uri=owner_uri,
        message=message,
        published="",
    )
    document.pop("@context", None)
    document.pop("published", None)
    return document
