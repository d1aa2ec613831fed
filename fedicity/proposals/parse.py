"""ActivityStreams -> ours: remote Questions as proposals, Mastodon-shaped votes, remote comments
and amendments (pure: no database).

A vote is what Mastodon sends: `Create(Note{name: option, inReplyTo: question})` with no content.
An amendment is a Note typed fc:Amendment too; any other Note in reply to a proposal is a comment,
with its author's `fc:stance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import as_list, get_id, get_str, get_type, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.proposals.models import (
    BALLOTS,
    ELECTORATES,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    MAX_OPTIONS,
    STANCES,
    STATES,
    TASK_STATUSES,
    Attachment,
    Ballot,
    Electorate,
    ProposalData,
    Stance,
    State,
)
from fedicity.sanitize import html_to_text, safe_url, sanitize_html
from fedicity.textfmt import title_html

MAX_CONTENT = 100_000
# The reader of remote dates under the name reviews of this module know it by.
parse_time = parse_datetime
MAX_INT4 = 2**31 - 1  # remote_voters_count is an integer column


def content_of(document: Mapping[str, Any]) -> str:
    """A remote Note's content, cut to MAX_CONTENT and sanitized."""
    return sanitize_html((get_str(document, "content") or "")[:MAX_CONTENT])


def source_of(document: Mapping[str, Any]) -> str | None:
    """The Markdown a remote text was written in (`source` with mediaType text/markdown), cut to
    MAX_CONTENT; None without one.

    It is kept, never rendered: what we show is the sender's `content`, sanitized, so a peer's
    text costs us one pass of the HTML policy and no Markdown parsing."""
    source = document.get("source")
    if not isinstance(source, Mapping) or get_str(source, "mediaType") != "text/markdown":
        return None
    text = source.get("content")
    return text[:MAX_CONTENT] if isinstance(text, str) and text.strip() else None


def ballot_of(document: Mapping[str, Any]) -> Ballot:
    """`fc:ballot`; without it, the `anonymousVotes` of earlier fedicity versions (false: the
    voters were shown), else secret (a Mastodon poll shows only counts)."""
    for key in ("ballot", "fc:ballot", "https://fedicity.org/ns#ballot"):
        value = document.get(key)
        if isinstance(value, str) and value in BALLOTS:
            found: Ballot = value
            return found
    return "nominal" if document.get("anonymousVotes") is False else "secret"


def stance_of(document: Mapping[str, Any]) -> Stance:
    """`fc:stance` of a Note (compacted under any of its usual names), neutral by default."""
    for key in ("stance", "fc:stance", "https://fedicity.org/ns#stance"):
        value = document.get(key)
        if isinstance(value, str) and value in STANCES:
            found: Stance = value
            return found
    return "neutral"


def attachments_of(document: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """Named http(s) links of a Question's `attachment` (Link objects; at most 10)."""
    found: list[Attachment] = []
    for item in as_list(document.get("attachment")):
        if not isinstance(item, Mapping) or get_type(item) != "Link":
            continue
        href = safe_url(item.get("href"))
        if href is None:
            continue
        name = get_str(item, "name") or href
        found.append(Attachment(href=href, name=name.strip()[:MAX_ATTACHMENT_NAME] or href))
        if len(found) == MAX_ATTACHMENTS:
            break
    return tuple(found)


def room_of(document: Mapping[str, Any], author: str) -> tuple[str | None, str | None]:
    """`fc:room` of a remote Question: its id and name, kept only on its author's host."""
    value = document.get("room")
    room_id = get_id(value)
    if room_id is None or safe_url(room_id) is None or host_of(room_id) != host_of(author):
        return None, None
    name = get_str(value, "name") if isinstance(value, Mapping) else None
    return room_id, (name or "")[:200] or None


def is_amendment_document(document: Mapping[str, Any]) -> bool:
    """Whether a Note carries the fc:Amendment type."""
    types = as_list(document.get("type"))
    return "Note" in types and any(
        t in ("Amendment", "fc:Amendment", "https://fedicity.org/ns#Amendment") for t in types
    )


def vote_target(document: Mapping[str, Any]) -> str | None:
    """The Question a Mastodon-shaped vote answers, when the Note looks like a vote."""
    if get_type(document) != "Note":
        return None
    if get_str(document, "content") or not get_str(document, "name"):
        return None
    return get_id(document.get("inReplyTo"))


def comment_target(document: Mapping[str, Any]) -> str | None:
    """The proposal a Note answers when it is a comment: a Note in reply, with content, not a
    Mastodon vote (a name and no content) and not an amendment."""
    if "Note" not in as_list(document.get("type")) or is_amendment_document(document):
        return None
    if get_str(document, "name") and not get_str(document, "content"):
        return None
    return get_id(document.get("inReplyTo"))


def _choices(document: Mapping[str, Any]) -> tuple[list[tuple[str, int]], bool]:
    multiple = "anyOf" in document and "oneOf" not in document
    found = []
    for choice in as_list(document.get("anyOf" if multiple else "oneOf")):
        if not isinstance(choice, Mapping):
            continue
        name = get_str(choice, "name")
        if not name:
            continue
        replies = choice.get("replies")
        total = replies.get("totalItems") if isinstance(replies, Mapping) else None
        found.append((name[:200], total if isinstance(total, int) and total >= 0 else 0))
    return found, multiple


def _bool(document: Mapping[str, Any], key: str, default: bool) -> bool:
    value = document.get(key)
    return value if isinstance(value, bool) else default


def _refusal(document: Mapping[str, Any], uri: str, author: str) -> str | None:
    """Why a document with an id cannot be kept as a proposal at all (None: it can)."""
    if safe_url(uri) is None:
        return "the object's id is not an http(s) URL"
    if get_type(document) != "Question":
        return "not a Question"
    if host_of(uri) != host_of(author):
        return "the object is not on its author's host"
    return None


def _title_and_content(document: Mapping[str, Any]) -> tuple[str, str]:
    """The title (`name`, else the content's first line) and the content without the title
    heading our own Questions start with."""
    title = (get_str(document, "name") or "").strip()
    content = get_str(document, "content") or ""
    if title and content.startswith(title_html(title)):
        content = content[len(title_html(title)) :]
    elif not title:
        title = html_to_text(sanitize_html(content[:MAX_CONTENT])).split("\n")[0][:200]
    return title[:200], sanitize_html(content[:MAX_CONTENT])


def _state_of(document: Mapping[str, Any]) -> State:
    """`fc:proposalState`; a Question without it is voting, or closed when it says so."""
    value = get_str(document, "proposalState")
    if value in STATES:
        state: State = value
        return state
    return "closed" if document.get("closed") is not None else "voting"


def _electorate_of(document: Mapping[str, Any]) -> Electorate:
    value = get_str(document, "electorate")
    if value in ELECTORATES:
        electorate: Electorate = value
        return electorate
    return "federated"


def _tags_of(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The Hashtags' names, lower-cased without their #, at most 50."""
    return tuple(
        dict.fromkeys(
            name.lstrip("#").lower()
            for tag in as_list(document.get("tag"))
            if isinstance(tag, Mapping)
            and get_type(tag) == "Hashtag"
            and isinstance(name := tag.get("name"), str)
            and name.strip("#")
        )
    )[:50]


def _voting_window(document: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """`fc:votingOpens` and `endTime`; an opening after the end is dropped (the table refuses
    an end before the opening)."""
    voting_opens = parse_datetime(document.get("votingOpens"))
    voting_ends = parse_datetime(document.get("endTime"))
    if voting_opens is not None and voting_ends is not None and voting_ends < voting_opens:
        voting_opens = None
    return voting_opens, voting_ends


def from_ap(
    document: Mapping[str, Any], *, author: str, now: datetime, token: str | None = None
) -> ProposalData | str:
    """A Question (ours, another fedicity's, or a Mastodon poll) as a proposal, or why not."""
    uri = get_id(document)
    if uri is None:
        return "the object has no id"
    refused = _refusal(document, uri, author)
    if refused is not None:
        return refused
    choices, multiple = _choices(document)
    if len(choices) < 2 or len({name for name, _ in choices}) != len(choices):
        return "a Question needs at least two distinct options"
    if len(choices) > MAX_OPTIONS:
        return f"a Question has at most {MAX_OPTIONS} options"
    title, content_html = _title_and_content(document)
    majority = document.get("majority")
    voters = document.get("votersCount")
    room_uri, room_name = room_of(document, author)
    voting_opens, voting_ends = _voting_window(document)
    return ProposalData(
        uri=uri,
        token=token,
        local_actor_id=None,
        author_uri=author,
        title=title,
        content_html=content_html,
        options=tuple(name for name, _ in choices),
        published=parse_datetime(document.get("published")) or now,
        organization_uri=get_id(document.get("context")),
        tags=_tags_of(document),
        state=_state_of(document),
        amendable_until=parse_datetime(document.get("amendableUntil")),
        voting_opens=voting_opens,
        voting_ends=voting_ends,
        multiple=multiple,
        ballot=ballot_of(document),
        vote_change_allowed=_bool(document, "voteChangeAllowed", False),
        majority=float(majority) if isinstance(majority, int | float) and 0 < majority < 1 else 0.5,
        electorate=_electorate_of(document),
        federated_votes_count=_bool(document, "federatedVotesCount", True),
        result=get_str(document, "result") or None,
        official_answer=sanitize_html(get_str(document, "officialAnswer") or "") or None,
        remote_tallies=dict(choices),
        remote_voters_count=voters if isinstance(voters, int) and 0 <= voters <= MAX_INT4 else None,
        raw=dict(document),
        updated=parse_datetime(document.get("updated")),
        room_uri=room_uri,
        room_name=room_name,
        attachments=attachments_of(document),
        content_source=source_of(document),
        # A co-moderation vote's object: an http(s) URL or nothing.
        moderation_of=safe_url(get_id(document.get("moderationOf"))),
    )


MAX_FOLLOW_UP_TITLE = 200
MAX_TALLY_OPTIONS = 20
MAX_ASSIGNEES = 100


def kind_of(document: Mapping[str, Any]) -> str | None:
    """`fc:kind` of an Article or Page: "Resolution", "Task", or None."""
    kind = document.get("kind")
    return kind if isinstance(kind, str) else None


def _publisher_refusal(document: Mapping[str, Any], actor_uri: str) -> str | None:
    uri = get_id(document)
    if uri is None or host_of(uri) != host_of(actor_uri):
        return "the object is not on its publisher's host"
    if get_id(document.get("attributedTo")) != actor_uri:
        return "the object's publisher is not the activity's actor"
    return None


def _clean_text(value: object, limit: int) -> str:
    return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""


def _same_host(uri: str | None, other: str) -> str | None:
    return uri if uri is not None and host_of(uri) == host_of(other) else None


def _tally_of(document: Mapping[str, Any]) -> dict[str, int]:
    raw = document.get("tally")
    tally: dict[str, int] = {}
    if not isinstance(raw, Mapping):
        return tally
    for option, count in list(raw.items())[:MAX_TALLY_OPTIONS]:
        if (
            isinstance(option, str)
            and isinstance(count, int)
            and not isinstance(count, bool)
            and 0 <= count <= MAX_INT4
        ):
            tally[_clean_text(option, MAX_ATTACHMENT_NAME)] = count
    return tally


def resolution_from_ap(
    document: Mapping[str, Any], *, actor_uri: str, now: datetime
) -> dict[str, Any] | str:
    """A received resolution's columns, or why it is refused: published by the activity's actor
    on its own host, about a proposal of that host (its content sanitized)."""
    refusal = _publisher_refusal(document, actor_uri)
    if refusal is not None:
        return refusal
    uri = get_id(document) or ""
    proposal_uri = _same_host(get_id(document.get("inReplyTo")), uri)
    if proposal_uri is None:
        return "the resolution is not of a proposal of its publisher's host"
    tally = _tally_of(document)
    adopted = document.get("adopted")
    adopted = adopted if isinstance(adopted, bool) else None
    title = _clean_text(document.get("name"), 500).removeprefix("Résolution : ")
    return {
        "uri": uri,
        "proposal_uri": proposal_uri,
        "room_uri": _same_host(get_id(document.get("context")), uri),
        "attributed_to": actor_uri,
        "title": title[:MAX_FOLLOW_UP_TITLE] or "—",
        "adopted": adopted,
        "outcome": "none"
        if adopted is None and not tally
        else ("adopted" if adopted else "rejected")
        if adopted is not None
        else "chosen",
        "chosen": max(tally, key=lambda option: tally[option])
        if adopted is None and tally
        else None,
        "tally": tally,
        "voters": 0,
        "content_html": content_of(document),
        "closed_at": parse_datetime(document.get("published")) or now,
        "local": False,
        "created_at": now,
    }


def task_from_ap(
    document: Mapping[str, Any], *, actor_uri: str, now: datetime
) -> dict[str, Any] | str:
    """A received action's columns, or why it is refused: published by the activity's actor on
    its own host, with a known status and sensible dates."""
    refusal = _publisher_refusal(document, actor_uri)
    if refusal is not None:
        return refusal
    uri = get_id(document) or ""
    status = document.get("taskStatus")
    if status not in TASK_STATUSES:
        return "the action's status is unknown"
    title = _clean_text(document.get("name"), MAX_FOLLOW_UP_TITLE)
    if not title:
        return "the action has no name"
    starts = parse_datetime(document.get("startTime"))
    ends = parse_datetime(document.get("endTime"))
    if starts is not None and ends is not None and ends < starts:
        return "the action ends before it starts"
    published = parse_datetime(document.get("published")) or now
    assignees = [
        uri
        for uri in (get_id(item) for item in as_list(document.get("assignedTo")))
        if uri is not None and safe_url(uri) is not None
    ]
    return {
        "uri": uri,
        "room_uri": _same_host(get_id(document.get("context")), uri),
        "resolution_uri": _same_host(get_id(document.get("resolution")), uri),
        "attributed_to": actor_uri,
        "created_by": actor_uri,
        "title": title,
        "description_html": content_of(document),
        "description_source": source_of(document),
        "status": status,
        "starts": starts,
        "ends": ends,
        "assignees": list(dict.fromkeys(assignees))[:MAX_ASSIGNEES],
        "published": published,
        # What orders the copies received (deliveries may arrive out of order): a Create
        # without `updated` is as old as the action.
        "updated": parse_datetime(document.get("updated")) or published,
    }
