"""Remote needs (`Page` of kind Need) and Offers read into our dataclasses, each refusal a value
with its precise reason. Pure: no database, no network. Ours are written by `needs.document`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from fedicity.activitypub.accessors import as_list, get_id, get_type, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.needs.models import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_MESSAGE,
    MAX_QUANTITY,
    MAX_TITLE,
    NEED_KINDS,
    NEED_STATES,
    NeedData,
    NeedKind,
    NeedState,
)
from fedicity.sanitize import html_to_text, safe_url, sanitize_html

# A remote content past this is no need description but an attack on our storage.
MAX_REMOTE_CONTENT = 50_000
_NEED_KIND_NAMES = frozenset({"Need", "fc:Need", "https://fedicity.org/ns#Need"})


@dataclass(frozen=True)
class Refused:
    """A remote document we will not keep, and why (for the inbox row's outcome)."""

    reason: str


def is_need(document: Mapping[str, Any]) -> bool:
    """Whether a document is a need: a `Page` whose `kind` names fc:Need."""
    if get_type(document) != "Page":
        return False
    return any(
        isinstance(kind, str) and kind in _NEED_KIND_NAMES for kind in as_list(document.get("kind"))
    )


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 and char not in "\t\n\r" for char in text)


def _day(document: Mapping[str, Any], key: str) -> date | Refused | None:
    value = document.get(key)
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        return Refused(f"{key} is not a date and time with a zone")
    day = moment.astimezone(UTC).date()
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return Refused(f"{key} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return day


def _quantity(value: Any) -> int | Refused | None:
    if value is None:
        return None
    # bool is an int in Python: `true` is no quantity.
    if isinstance(value, bool) or not isinstance(value, int):
        return Refused("quantity is not a whole number")
    if not 1 <= value <= MAX_QUANTITY:
        return Refused(f"quantity is outside 1 to {MAX_QUANTITY}")
    return value


def parse_need(document: Mapping[str, Any], *, actor_uri: str) -> NeedData | Refused:
    """A remote need as NeedData, or why it is refused: not ours to keep (another author), no
    title, absurd numbers or dates, hidden characters, a huge text."""
    if not is_need(document):
        return Refused("not a Page of kind Need")
    uri = safe_url(get_id(document))
    if uri is None:
        return Refused("the need's id is not an http(s) URL")
    owner = get_id(document.get("attributedTo"))
    if owner != actor_uri:
        return Refused("the need is not attributed to the activity's actor")
    # Only its owner's server can say what an id there names.
    if host_of(uri) != host_of(actor_uri):
        return Refused("the need's id is not on its owner's server")
    title = document.get("name")
    if not isinstance(title, str) or not title.strip():
        return Refused("the need has no name")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        return Refused(f"the need's name is longer than {MAX_TITLE} characters")
    if _has_control(title) or "\x00" in str(document.get("content", "")):
        return Refused("the need holds control characters")
    content = document.get("content", "")
    if not isinstance(content, str):
        return Refused("the need's content is not text")
    if len(content) > MAX_REMOTE_CONTENT:
        return Refused(f"the need's content is longer than {MAX_REMOTE_CONTENT} characters")
    quantity = _quantity(document.get("quantity"))
    starts = _day(document, "startTime")
    ends = _day(document, "endTime")
    if isinstance(quantity, Refused):
        return quantity
    if isinstance(starts, Refused):
        return starts
    if isinstance(ends, Refused):
        return ends
    if starts is not None and ends is not None and ends < starts:
        return Refused("the need ends before it starts")
    raw_kind = document.get("needKind")
    kind: NeedKind = raw_kind if raw_kind in NEED_KINDS else "other"
    raw_state = document.get("needState")
    state: NeedState = raw_state if raw_state in NEED_STATES else "open"
    return NeedData(
        uri=uri,
        owner_uri=owner,
        title=title,
        description_html=sanitize_html(content),
        kind=kind,
        quantity=quantity,
        starts_on=starts,
        ends_on=ends,
        state=state,
        raw=dict(document),
    )


@dataclass(frozen=True)
class OfferData:
    """A remote helper's Offer: who, for which need, what they say."""

    activity_uri: str
    helper_uri: str
    need_uri: str
    message: str


def parse_offer(activity: Mapping[str, Any], *, actor_uri: str) -> OfferData | Refused:
    """An Offer to help with a need, or why it is refused."""
    activity_uri = safe_url(get_id(activity))
    if activity_uri is None:
        return Refused("the Offer's id is not an http(s) URL")
    if get_id(activity.get("actor")) != actor_uri:
        return Refused("the Offer's actor is not its signer")
    need_uri = get_id(activity.get("object"))
    if need_uri is None:
        return Refused("the Offer names no need")
    content = activity.get("content", "")
    if content is None:
        content = ""
    if not isinstance(content, str):
        return Refused("the Offer's content is not text")
    if len(content) > MAX_REMOTE_CONTENT:
        return Refused("the Offer's content is too long")
    # HTML as Mastodon writes it; bare text as some servers do (its entities read as HTML too).
    message = html_to_text(content).strip() if "<" in content or "&" in content else content.strip()
    if "\x00" in message:
        return Refused("the Offer's content holds a NUL character")
    return OfferData(activity_uri, actor_uri, need_uri, message[:MAX_MESSAGE])
