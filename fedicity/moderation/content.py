"""Content policies: small pure functions that judge one inbound activity.

Each takes the activity, its object (embedded or fetched; None when there is none), what we know
of the actor, the policy's settings and the moment, and returns a Decision. Which activities each
one looks at:

- keyword, hashtag, mentions, new_actor_links: a Create or an Update of an object (what adds
  text); a Delete, Undo, Like, Follow... carries none and always passes;
- object_age: a Create by the object's `published`, an Update by its `updated` (an edit of an old
  post carries a fresh one, so it still passes); never a Delete, so an old post can be removed;
- actor_type: every activity: an actor whose document is not a Person, Service, Application, Group
  or Organization is ignored whatever it sends.

Terms are plain words and phrases, never regular expressions: they are matched on whole words,
case and accents folded, in the content, the summary (content warning) and the name. Matching
is a literal scan, so no term can make it slow.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from fedicity.activitypub.accessors import as_list, get_id, get_str, get_type
from fedicity.activitypub.dates import parse_datetime
from fedicity.actors.parse import ACTOR_TYPES
from fedicity.errors import DomainError
from fedicity.sanitize import html_to_text

Verdict = Literal["accept", "reject", "flag", "hold"]
Action = Literal["reject", "flag"]

KEYWORD: Final = "keyword"
HASHTAG: Final = "hashtag"
MENTIONS: Final = "mentions"
OBJECT_AGE: Final = "object_age"
NEW_ACTOR_LINKS: Final = "new_actor_links"
ACTOR_TYPE: Final = "actor_type"
# In the order they run (and are listed to admins).
POLICIES: Final = (KEYWORD, HASHTAG, MENTIONS, OBJECT_AGE, NEW_ACTOR_LINKS, ACTOR_TYPE)
# The policies whose action an admin chooses (reject or flag); the others have one.
CHOOSE_ACTION: Final = frozenset({KEYWORD, HASHTAG})
# The policies that take a list of terms, and those that take a number (its bounds).
WITH_TERMS: Final = frozenset({KEYWORD, HASHTAG})
AMOUNT_BOUNDS: Final = {MENTIONS: (1, 1000), OBJECT_AGE: (1, 36_500), NEW_ACTOR_LINKS: (1, 8760)}
MAX_TERMS: Final = 500
MAX_TERM_LENGTH: Final = 100
# What is kept of the judged text beside a decision.
EXCERPT_LENGTH: Final = 500
# Text longer than this is judged on its beginning only: an inbox body is capped already.
_MAX_TEXT: Final = 200_000
_CREATES: Final = frozenset({"Create"})
_ADDS_TEXT: Final = frozenset({"Create", "Update"})
_URL: Final = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_HREF: Final = re.compile(r"""href\s*=\s*["']?(https?://[^"'\s>]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's settings as admins left them."""

    name: str
    enabled: bool = False
    action: Action = "reject"
    terms: tuple[str, ...] = ()
    amount: int | None = None
    updated_at: datetime | None = None
    updated_by: str = ""


@dataclass(frozen=True)
class ActorFacts:
    """What we know of the activity's actor: its document's type and when we first saw it."""

    uri: str
    type: str | None
    first_seen_at: datetime | None


@dataclass(frozen=True)
class Decision:
    """What a policy decided, why, and the text it judged (kept for admins)."""

    verdict: Verdict
    policy: str = ""
    reason: str = ""
    excerpt: str = ""

    @property
    def accepted(self) -> bool:
        """Plain acceptance: nothing to record."""
        return self.verdict == "accept"


ACCEPT: Final = Decision("accept")


def default_config(name: str) -> PolicyConfig:
    """A policy no admin has set: off, with a usual value ready; unknown actor types dropped."""
    amounts = {MENTIONS: 20, OBJECT_AGE: 30, NEW_ACTOR_LINKS: 24}
    return PolicyConfig(name, enabled=name == ACTOR_TYPE, amount=amounts.get(name))


Policy = Callable[
    [Mapping[str, Any], Mapping[str, Any] | None, ActorFacts, PolicyConfig, datetime], Decision
]


def fold(text: str) -> str:
    """Text as terms are compared: accents dropped, case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def texts(document: Mapping[str, Any]) -> str:
    """The object's words a reader sees: name, summary (content warning) and content, in plain
    text (every language of contentMap too, as any of them may be shown)."""
    parts: list[str] = []
    for key in ("name", "summary", "content"):
        value = get_str(document, key)
        if value:
            parts.append(value)
        mapped = document.get(f"{key}Map")
        if isinstance(mapped, Mapping):
            parts.extend(value for value in mapped.values() if isinstance(value, str))
    unique = list(dict.fromkeys(parts))
    return "\n".join(html_to_text(part[:_MAX_TEXT]) for part in unique)


def _excerpt(document: Mapping[str, Any] | None) -> str:
    return texts(document)[:EXCERPT_LENGTH] if document is not None else ""


def _tags(document: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [
        tag
        for tag in as_list(document.get("tag"))
        if isinstance(tag, Mapping) and get_type(tag) == kind
    ]


def _judged(
    activity: Mapping[str, Any], document: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The object of a Create or Update, unless it is an actor (a profile edit is no post)."""
    if document is None or get_type(activity) not in _ADDS_TEXT:
        return None
    return None if get_type(document) in ACTOR_TYPES else document


def _matches(term: str, folded_text: str) -> bool:
    """Whether a folded term occurs in folded text as whole words (a literal search)."""
    start = folded_text.find(term)
    while start != -1:
        end = start + len(term)
        before = folded_text[start - 1] if start else " "
        after = folded_text[end] if end < len(folded_text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = folded_text.find(term, start + 1)
    return False


def _refusal(config: PolicyConfig, reason: str, document: Mapping[str, Any] | None) -> Decision:
    return Decision(config.action, config.name, reason, _excerpt(document))


def keyword(
    activity: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Reject or flag a created or edited object whose text holds one of the terms."""
    document = _judged(activity, given)
    if document is None or not config.terms:
        return ACCEPT
    folded = fold(texts(document))
    for term in config.terms:
        wanted = fold(term)
        if wanted and _matches(wanted, folded):
            return _refusal(config, f"contains “{term}”", document)
    return ACCEPT


def hashtag_names(document: Mapping[str, Any]) -> list[str]:
    """The object's hashtags, folded, without their #."""
    names = (get_str(tag, "name") or "" for tag in _tags(document, "Hashtag"))
    return [fold(name.lstrip("#")) for name in names if name.lstrip("#")]


def hashtag(
    activity: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Reject or flag a created or edited object tagged with one of the hashtags."""
    document = _judged(activity, given)
    if document is None or not config.terms:
        return ACCEPT
    present = set(hashtag_names(document))
    for term in config.terms:
        if fold(term.lstrip("#")) in present:
            return _refusal(config, f"tagged #{term.lstrip('#')}", document)
    return ACCEPT


def mentions(
    activity: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Reject a created or edited object mentioning more accounts than allowed."""
    document = _judged(activity, given)
    if document is None or config.amount is None:
        return ACCEPT
    mentioned = {
        get_str(tag, "href") or get_str(tag, "name") or "" for tag in _tags(document, "Mention")
    }
    mentioned.discard("")
    if len(mentioned) > config.amount:
        return _refusal(config, f"{len(mentioned)} mentions, more than {config.amount}", document)
    return ACCEPT


def object_age(
    activity: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Reject a Create of an object published, or an Update dated, more than N days ago."""
    document = _judged(activity, given)
    if document is None or config.amount is None:
        return ACCEPT
    kind = get_type(activity)
    if kind in _CREATES:
        moment = parse_datetime(document.get("published"))
    elif kind == "Update":
        moment = parse_datetime(document.get("updated"))
    else:
        return ACCEPT
    if moment is None or now - moment <= timedelta(days=config.amount):
        return ACCEPT
    field_name = "published" if kind in _CREATES else "updated"
    days = (now - moment).days
    return _refusal(config, f"{field_name} {days} days ago, more than {config.amount}", document)


def links(document: Mapping[str, Any]) -> list[str]:
    """The web links an object carries, besides its mentions' and hashtags' own."""
    own = {
        href
        for kind in ("Mention", "Hashtag")
        for tag in _tags(document, kind)
        if (href := get_str(tag, "href"))
    }
    found: list[str] = []
    for key in ("content", "summary", "name"):
        value = (get_str(document, key) or "")[:_MAX_TEXT]
        found.extend(_HREF.findall(value))
        found.extend(_URL.findall(html_to_text(value)))
    for attachment in as_list(document.get("attachment")):
        if isinstance(attachment, Mapping) and get_type(attachment) == "Link":
            href = get_str(attachment, "href") or get_id(attachment)
            if href:
                found.append(href)
    return [url for url in dict.fromkeys(found) if url not in own]


def new_actor_links(
    activity: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Hold a created or edited object with links from an actor first seen under N hours ago."""
    document = _judged(activity, given)
    if document is None or config.amount is None:
        return ACCEPT
    if actor.first_seen_at is None or now - actor.first_seen_at >= timedelta(hours=config.amount):
        return ACCEPT
    found = links(document)
    if not found:
        return ACCEPT
    return Decision(
        "hold",
        config.name,
        f"links ({found[0][:200]}) from an actor first seen under {config.amount} hours ago",
        _excerpt(document),
    )


def actor_type(
    activity: Mapping[str, Any],
    document: Mapping[str, Any] | None,
    actor: ActorFacts,
    config: PolicyConfig,
    now: datetime,
) -> Decision:
    """Reject every activity of an actor whose document is of no known actor type (an actor
    whose document we do not keep is not judged: nothing tells its type)."""
    if actor.type is None or actor.type in ACTOR_TYPES:
        return ACCEPT
    return Decision("reject", config.name, f"the actor is a {actor.type[:100]}", "")


FUNCTIONS: Final[dict[str, Policy]] = {
    KEYWORD: keyword,
    HASHTAG: hashtag,
    MENTIONS: mentions,
    OBJECT_AGE: object_age,
    NEW_ACTOR_LINKS: new_actor_links,
    ACTOR_TYPE: actor_type,
}


@dataclass(frozen=True)
class Judgement:
    """What the pipeline decided: the rejection, else the hold, and every flag."""

    rejected: Decision | None = None
    held: Decision | None = None
    flags: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def recorded(self) -> list[Decision]:
        """The decisions to record: a rejection alone, else the hold and the flags."""
        if self.rejected is not None:
            return [self.rejected]
        return [*([self.held] if self.held else []), *self.flags]


def judge(
    activity: Mapping[str, Any],
    document: Mapping[str, Any] | None,
    actor: ActorFacts,
    configs: Mapping[str, PolicyConfig],
    now: datetime,
    *,
    released: bool = False,
) -> Judgement:
    """Run every enabled policy: the first rejection wins, else the first hold (none once an
    admin released the activity); every flag is kept."""
    held: Decision | None = None
    flags: list[Decision] = []
    for name in POLICIES:
        config = configs.get(name)
        if config is None or not config.enabled:
            continue
        decision = FUNCTIONS[name](activity, document, actor, config, now)
        if decision.verdict == "reject":
            return Judgement(rejected=decision)
        if decision.verdict == "hold" and held is None and not released:
            held = decision
        elif decision.verdict == "flag":
            flags.append(decision)
    return Judgement(held=held, flags=tuple(flags))


class ContentPolicyError(DomainError):
    """A content policy setting or action refused; `field` names the form field at fault."""

    def __init__(self, code: str, field: str, detail: str = "") -> None:
        super().__init__(code, detail or f"{field}: {code}")
        self.field = field


def parse_terms(name: str, text: str) -> tuple[str, ...]:
    """Terms typed one a line or comma-separated, cleaned; ContentPolicyError when unusable."""
    raw = [part.strip() for line in text.splitlines() for part in line.split(",")]
    terms: list[str] = []
    for term in raw:
        if name == HASHTAG:
            term = term.lstrip("#").strip()
        if not term:
            continue
        if len(term) > MAX_TERM_LENGTH or any(
            unicodedata.category(char) in {"Cc", "Cs", "Co"} for char in term
        ):
            raise ContentPolicyError(
                "content_term_invalid", "terms", f"a term has 1 to {MAX_TERM_LENGTH} characters"
            )
        if name == HASHTAG and not all(char.isalnum() or char == "_" for char in term):
            raise ContentPolicyError(
                "content_hashtag_invalid", "terms", "a hashtag is letters, digits and _"
            )
        if not fold(term):
            raise ContentPolicyError("content_term_invalid", "terms")
        terms.append(term)
    unique = tuple(dict.fromkeys(terms))
    if len(unique) > MAX_TERMS:
        raise ContentPolicyError("content_too_many_terms", "terms", f"at most {MAX_TERMS} terms")
    return unique


def parse_amount(name: str, text: str) -> int | None:
    """The number typed for a policy that takes one, within its bounds; ContentPolicyError else."""
    bounds = AMOUNT_BOUNDS.get(name)
    if bounds is None:
        return None
    cleaned = text.strip()
    low, high = bounds
    wrong = ContentPolicyError(
        "content_amount_invalid", "amount", f"the number is a whole number from {low} to {high}"
    )
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 7:
        raise wrong
    value = int(cleaned)
    if not low <= value <= high:
        raise wrong
    return value


def parse_action(name: str, text: str) -> Action:
    """reject or flag, for the policies that let admins choose; the fixed one otherwise."""
    if name not in CHOOSE_ACTION:
        return "reject"
    if text == "reject":
        return "reject"
    if text == "flag":
        return "flag"
    raise ContentPolicyError("content_action_invalid", "action", "the action is reject or flag")
