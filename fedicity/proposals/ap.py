"""Proposals as ActivityStreams Questions, both ways, and Mastodon-shaped votes coming in.

A proposal is a `Question` (`oneOf`, or `anyOf` for multiple choice) whose options carry their
counts in `replies.totalItems`, so any Mastodon-compatible app shows it as a poll; the rest of the
proposal (state, majority, electorate, result, official answer...) is in `fc:` terms. A vote is
what Mastodon sends: `Create(Note{name: option, inReplyTo: question})` with no content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from fedicity.activitypub.accessors import (
    as_list,
    get_id,
    get_str,
    get_type,
    host_of,
)
from fedicity.activitypub.dates import format_datetime, parse_datetime
from fedicity.activitypub.routing import Outcome
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.actors.context import InboundContext
from fedicity.proposals import queries
from fedicity.proposals.models import (
    ELECTORATES,
    STANCES,
    STATES,
    Amendment,
    Attachment,
    Comment,
    Electorate,
    Proposal,
    ProposalData,
    Room,
    Stance,
    State,
    Tally,
)
from fedicity.sanitize import html_to_text, safe_url, sanitize_html
from fedicity.textfmt import title_html
from fedicity.urls import Urls

MAX_CONTENT = 100_000
# The reader of remote dates under the name reviews of this module know it by.
parse_time = parse_datetime
MAX_AMENDMENTS_LISTED = 100
MAX_COMMENTS_LISTED = 100
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_NAME = 200
MAX_OPTIONS = 20  # the proposals table's CHECK (cardinality(options) BETWEEN 2 AND 20)
MAX_INT4 = 2**31 - 1  # remote_voters_count is an integer column
# Inline definitions of the terms we use, beside the served fc: context, for consumers that read
# short names without processing JSON-LD (as Mastodon does).
QUESTION_EXTENSION: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "votersCount": "toot:votersCount",
    "Hashtag": "as:Hashtag",
    "amendmentState": "fc:amendmentState",
    "upVotes": "fc:upVotes",
    "downVotes": "fc:downVotes",
    "room": "fc:room",
    "Room": "fc:Room",
    "stance": "fc:stance",
}
# A comment is a Note in reply to the proposal with the author's stance.
COMMENT_EXTENSION: dict[str, Any] = {"fc": "https://fedicity.org/ns#", "stance": "fc:stance"}
# A room is a plain JSON-LD object (not an actor).
ROOM_EXTENSION: dict[str, Any] = {
    "fc": "https://fedicity.org/ns#",
    "Room": "fc:Room",
    "roomStatus": "fc:roomStatus",
    "membersOnly": "fc:membersOnly",
}
# An amendment is a Note with the fc:Amendment type beside it (Mastodon shows the Note).
AMENDMENT_EXTENSION: dict[str, Any] = {
    "fc": "https://fedicity.org/ns#",
    "Amendment": "fc:Amendment",
    "amendmentState": "fc:amendmentState",
    "upVotes": "fc:upVotes",
    "downVotes": "fc:downVotes",
}


def counts_of(proposal: Proposal, tally: Tally | None) -> tuple[dict[str, int], int]:
    """Per-option counts and voters as published: every vote, local and federated."""
    if not proposal.local:
        return dict(proposal.remote_tallies or {}), proposal.remote_voters_count or 0
    if tally is None:
        return {}, 0
    return {option: tally.total(option) for option in proposal.options}, tally.voters


def to_ap(
    proposal: Proposal,
    tally: Tally | None,
    urls: Urls,
    *,
    followers: str,
    audience_uri: str | None = None,
    with_context: bool = True,
    amendments: Sequence[Amendment] = (),
    comments: Sequence[Comment] = (),
    comment_count: int | None = None,
    room: Room | None = None,
) -> dict[str, Any]:
    """A proposal as a Question with its fc: terms (and its amendments, when it has some; its
    comments as `replies`; its room as `room`; its named links as `attachment`)."""
    counts, voters = counts_of(proposal, tally)
    choices = [
        {
            "type": "Note",
            "name": option,
            "replies": {"type": "Collection", "totalItems": counts.get(option, 0)},
        }
        for option in proposal.options
    ]
    document: dict[str, Any] = {
        "id": proposal.uri,
        "type": "Question",
        "attributedTo": proposal.author_uri,
        "name": proposal.title,
        "content": title_html(proposal.title) + proposal.content_html,
        "published": format_datetime(proposal.published),
        "url": proposal.uri,
        "to": [PUBLIC],
        "cc": [followers],
        "anyOf" if proposal.multiple else "oneOf": choices,
        "votersCount": voters,
        "tag": [
            {"type": "Hashtag", "href": urls.tag(tag), "name": f"#{tag}"} for tag in proposal.tags
        ],
        "proposalState": proposal.state,
        "majority": proposal.majority,
        "anonymousVotes": proposal.anonymous_votes,
        "voteChangeAllowed": proposal.vote_change_allowed,
        "electorate": proposal.electorate,
        "federatedVotesCount": proposal.federated_votes_count,
    }
    optional: dict[str, Any] = {
        "endTime": format_datetime(proposal.voting_ends) if proposal.voting_ends else None,
        "votingOpens": format_datetime(proposal.voting_opens) if proposal.voting_opens else None,
        "amendableUntil": format_datetime(proposal.amendable_until)
        if proposal.amendable_until
        else None,
        "updated": format_datetime(proposal.updated) if proposal.updated else None,
        "result": proposal.result,
        "officialAnswer": proposal.official_answer,
        "audience": audience_uri,
        "context": proposal.organization_uri,
        "room": room_ref(proposal, room),
    }
    if proposal.state in ("closed", "withdrawn", "archived"):
        # Mastodon shows a poll with `closed` as finished and refuses votes in the app.
        optional["closed"] = format_datetime(
            proposal.voting_ends or proposal.updated or proposal.published
        )
    document.update({key: value for key, value in optional.items() if value is not None})
    if amendments:
        document["amendments"] = {
            "id": urls.amendments(proposal.uri),
            "type": "Collection",
            "totalItems": len(amendments),
            "items": [
                {
                    "id": amendment.uri,
                    "type": ["Note", "Amendment"],
                    "attributedTo": amendment.author_uri,
                    "content": amendment.content_html,
                    "amendmentState": amendment.state,
                    "upVotes": amendment.up,
                    "downVotes": amendment.down,
                }
                for amendment in amendments[:MAX_AMENDMENTS_LISTED]
            ],
        }
    if proposal.attachments:
        document["attachment"] = [
            {"type": "Link", "href": item.href, "name": item.name} for item in proposal.attachments
        ]
    if proposal.local:
        document["replies"] = {
            "id": urls.replies(proposal.uri),
            "type": "Collection",
            "totalItems": len(comments) if comment_count is None else comment_count,
            "items": [
                comment_to_ap(comment, proposal, with_context=False)
                for comment in comments[:MAX_COMMENTS_LISTED]
            ],
        }
    if with_context:
        document = {"@context": [AS_CONTEXT, urls.context, QUESTION_EXTENSION], **document}
    return document


def room_ref(proposal: Proposal, room: Room | None) -> dict[str, Any] | None:
    """`fc:room` of a Question: the room's id and name (a room is not an actor)."""
    if room is not None:
        return {"id": room.uri, "type": "Room", "name": room.name}
    if proposal.room_uri:
        return {"id": proposal.room_uri, "type": "Room", "name": proposal.room_name or ""}
    return None


def room_to_ap(room: Room, *, owner_uri: str, urls: Urls) -> dict[str, Any]:
    """A room as a JSON-LD object (type fc:Room) at its URL."""
    document: dict[str, Any] = {
        "@context": [AS_CONTEXT, urls.context, ROOM_EXTENSION],
        "id": room.uri,
        "type": "Room",
        "name": room.name,
        "summary": room.description_html,
        "url": room.uri,
        "attributedTo": owner_uri,
        "published": format_datetime(room.created_at),
        "roomStatus": room.status,
        "membersOnly": room.members_only,
    }
    if room.updated_at is not None:
        document["updated"] = format_datetime(room.updated_at)
    return document


def comment_to_ap(
    comment: Comment,
    proposal: Proposal,
    *,
    followers: str | None = None,
    with_context: bool = True,
) -> dict[str, Any]:
    """A comment as a Note in reply to its proposal, with `fc:stance`."""
    cc = [proposal.author_uri]
    if followers is not None:
        cc.insert(0, followers)
    document: dict[str, Any] = {
        "id": comment.uri,
        "type": "Note",
        "attributedTo": comment.author_uri,
        "inReplyTo": proposal.uri,
        "content": comment.content_html,
        "published": format_datetime(comment.published),
        "to": [PUBLIC],
        "cc": cc,
        "stance": comment.stance,
    }
    if with_context:
        document = {"@context": [AS_CONTEXT, COMMENT_EXTENSION], **document}
    return document


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


def _room_of(document: Mapping[str, Any], author: str) -> tuple[str | None, str | None]:
    value = document.get("room")
    room_id = get_id(value)
    if room_id is None or safe_url(room_id) is None or host_of(room_id) != host_of(author):
        return None, None
    name = get_str(value, "name") if isinstance(value, Mapping) else None
    return room_id, (name or "")[:200] or None


def amendment_to_ap(
    amendment: Amendment, proposal: Proposal, *, followers: str, with_context: bool = True
) -> dict[str, Any]:
    """An amendment as a Note in reply to its proposal, typed fc:Amendment too."""
    document: dict[str, Any] = {
        "id": amendment.uri,
        "type": ["Note", "Amendment"],
        "attributedTo": amendment.author_uri,
        "inReplyTo": proposal.uri,
        "content": (
            f"<p><strong>Amendement à « {escape(proposal.title)} »</strong></p>"
            + amendment.content_html
        ),
        "published": format_datetime(amendment.published),
        "url": proposal.uri,
        "to": [PUBLIC],
        "cc": [followers, proposal.author_uri],
        "amendmentState": amendment.state,
        "upVotes": amendment.up,
        "downVotes": amendment.down,
    }
    if amendment.decided_at is not None:
        document["updated"] = format_datetime(amendment.decided_at)
    if with_context:
        document = {"@context": [AS_CONTEXT, AMENDMENT_EXTENSION], **document}
    return document


def is_amendment_document(document: Mapping[str, Any]) -> bool:
    """Whether a Note carries the fc:Amendment type."""
    types = as_list(document.get("type"))
    return "Note" in types and any(
        t in ("Amendment", "fc:Amendment", "https://fedicity.org/ns#Amendment") for t in types
    )


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


def from_ap(
    document: Mapping[str, Any], *, author: str, now: datetime, token: str | None = None
) -> ProposalData | str:
    """A Question (ours, another fedicity's, or a Mastodon poll) as a proposal, or why not."""
    uri = get_id(document)
    if uri is None:
        return "the object has no id"
    if safe_url(uri) is None:
        return "the object's id is not an http(s) URL"
    if get_type(document) != "Question":
        return "not a Question"
    if host_of(uri) != host_of(author):
        return "the object is not on its author's host"
    choices, multiple = _choices(document)
    if len(choices) < 2 or len({name for name, _ in choices}) != len(choices):
        return "a Question needs at least two distinct options"
    if len(choices) > MAX_OPTIONS:
        return f"a Question has at most {MAX_OPTIONS} options"
    title = (get_str(document, "name") or "").strip()
    content = get_str(document, "content") or ""
    if title and content.startswith(title_html(title)):
        content = content[len(title_html(title)) :]
    elif not title:
        title = html_to_text(sanitize_html(content[:MAX_CONTENT])).split("\n")[0][:200]
    state_value = get_str(document, "proposalState")
    state: State
    if state_value in STATES:
        state = state_value
    else:
        closed = document.get("closed") is not None
        state = "closed" if closed else "voting"
    electorate_value = get_str(document, "electorate")
    electorate: Electorate = electorate_value if electorate_value in ELECTORATES else "federated"
    majority = document.get("majority")
    voters = document.get("votersCount")
    tags = tuple(
        dict.fromkeys(
            name.lstrip("#").lower()
            for tag in as_list(document.get("tag"))
            if isinstance(tag, Mapping)
            and get_type(tag) == "Hashtag"
            and isinstance(name := tag.get("name"), str)
            and name.strip("#")
        )
    )[:50]
    room_uri, room_name = _room_of(document, author)
    voting_opens = parse_datetime(document.get("votingOpens"))
    voting_ends = parse_datetime(document.get("endTime"))
    if voting_opens is not None and voting_ends is not None and voting_ends < voting_opens:
        voting_opens = None  # the table refuses an end before the opening
    return ProposalData(
        uri=uri,
        token=token,
        local_actor_id=None,
        author_uri=author,
        title=title[:200],
        content_html=sanitize_html(content[:MAX_CONTENT]),
        options=tuple(name for name, _ in choices),
        published=parse_datetime(document.get("published")) or now,
        organization_uri=get_id(document.get("context")),
        tags=tags,
        state=state,
        amendable_until=parse_datetime(document.get("amendableUntil")),
        voting_opens=voting_opens,
        voting_ends=voting_ends,
        multiple=multiple,
        anonymous_votes=_bool(document, "anonymousVotes", False),
        vote_change_allowed=_bool(document, "voteChangeAllowed", False),
        majority=float(majority) if isinstance(majority, int | float) and 0 < majority < 1 else 0.5,
        electorate=electorate,
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
    )


async def remember_question(ctx: InboundContext, document: Mapping[str, Any]) -> None:
    """Keep a remote Question (a poll, or another fedicity's proposal) with its tallies."""
    if get_type(document) != "Question":
        return
    data = from_ap(document, author=ctx.actor_uri, now=ctx.clock.now())
    if isinstance(data, str):
        return
    if host_of(data.uri) == host_of(ctx.urls.base):
        return  # ours come from our own rows, never from the wire
    await queries.upsert_proposal(ctx.conn, data)


async def _is_local_proposal(ctx: InboundContext, target: str | None) -> bool:
    """Whether `target` is one of our proposals (checked by host before the query)."""
    if target is None or host_of(target) != host_of(ctx.urls.base):
        return False
    proposal = await queries.select_proposal(ctx.conn, target)
    return proposal is not None and proposal.local


def vote_target(document: Mapping[str, Any]) -> str | None:
    """The Question a Mastodon-shaped vote answers, when the Note looks like a vote."""
    if get_type(document) != "Note":
        return None
    if get_str(document, "content") or not get_str(document, "name"):
        return None
    return get_id(document.get("inReplyTo"))


async def is_vote(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is a vote on one of our proposals (posts hands it to us)."""
    return await _is_local_proposal(ctx, vote_target(document))


async def on_vote(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote vote on a local proposal: counted once per actor, then the tallies go out."""
    from fedicity.proposals import service

    target = vote_target(document)
    proposal = await queries.select_proposal(ctx.conn, target or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the vote is not on a proposal of ours")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if author != ctx.actor_uri:
        return Outcome.ignored("the vote's author is not the activity's actor")
    option = get_str(document, "name") or ""
    activity_uri = get_id(activity) or get_id(document) or ""
    try:
        await service.record_vote(
            ctx.conn,
            proposal=proposal,
            voter_uri=ctx.actor_uri,
            options=[option],
            activity_uri=activity_uri,
            local=False,
            voter_home_territory_id=None,
            env=service.Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen),
        )
    except service.ProposalError as refused:
        return Outcome.ignored(f"vote refused: {refused}")
    return Outcome.done()


async def is_amendment(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is an amendment to one of our proposals."""
    if not is_amendment_document(document):
        return False
    return await _is_local_proposal(ctx, get_id(document.get("inReplyTo")))


async def on_amendment(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote amendment to a local proposal: kept under the same rules as a local one."""
    from fedicity.proposals import service

    proposal = await queries.select_proposal(ctx.conn, get_id(document.get("inReplyTo")) or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the amendment is not to a proposal of ours")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    uri = get_id(document)
    if author != ctx.actor_uri or uri is None or host_of(uri) != host_of(ctx.actor_uri):
        return Outcome.ignored("the amendment's author is not the activity's actor")
    try:
        await service.propose_amendment(
            ctx.conn,
            proposal=proposal,
            author_uri=author,
            content_html=sanitize_html((get_str(document, "content") or "")[:MAX_CONTENT]),
            uri=uri,
            author=None,
            env=service.Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen),
        )
    except service.ProposalError as refused:
        return Outcome.ignored(f"amendment refused: {refused}")
    return Outcome.done()


def _comment_target(document: Mapping[str, Any]) -> str | None:
    """The proposal a Note answers when it is a comment: a Note in reply, with content, not a
    Mastodon vote (a name and no content) and not an amendment."""
    if "Note" not in as_list(document.get("type")) or is_amendment_document(document):
        return None
    if get_str(document, "name") and not get_str(document, "content"):
        return None
    return get_id(document.get("inReplyTo"))


async def is_comment(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is a comment on one of our proposals."""
    return await _is_local_proposal(ctx, _comment_target(document))


async def on_comment(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote comment on a local proposal (a Mastodon reply is one too): stance from
    `fc:stance`, neutral without it; kept under the same rules as a local comment."""
    from fedicity.proposals import service

    proposal = await queries.select_proposal(ctx.conn, _comment_target(document) or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the comment is not on a proposal of ours")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    uri = get_id(document)
    if author != ctx.actor_uri or uri is None or host_of(uri) != host_of(ctx.actor_uri):
        return Outcome.ignored("the comment's author is not the activity's actor")
    try:
        await service.receive_comment(
            ctx.conn,
            proposal=proposal,
            author_uri=author,
            stance=stance_of(document),
            content_html=sanitize_html((get_str(document, "content") or "")[:MAX_CONTENT]),
            uri=uri,
            published=parse_datetime(document.get("published")),
            env=service.Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen),
        )
    except service.ProposalError as refused:
        return Outcome.ignored(f"comment refused: {refused}")
    return Outcome.done()


async def is_comment_edit(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether an Update's object is a comment we keep (posts hands it to us)."""
    uri = get_id(document)
    return uri is not None and await queries.select_comment(ctx.conn, uri) is not None


async def on_comment_edit(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote comment edited by its author: text (sanitized) and stance replaced, the stance
    read as for a new comment; it stays on its proposal whatever `inReplyTo` now says."""
    from fedicity.proposals import service

    comment = await queries.select_comment(ctx.conn, get_id(document) or "")
    if comment is None:
        return Outcome.ignored("no such comment")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if comment.author_uri != ctx.actor_uri or author != ctx.actor_uri:
        return Outcome.ignored("only the comment's author can edit it")
    try:
        await service.receive_comment_edit(
            ctx.conn,
            comment=comment,
            author_uri=ctx.actor_uri,
            stance=stance_of(document),
            content_html=sanitize_html((get_str(document, "content") or "")[:MAX_CONTENT]),
            env=service.Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen),
        )
    except service.ProposalError as refused:
        return Outcome.ignored(f"comment edit refused: {refused}")
    return Outcome.done()


async def delete_stored_comment(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of a comment we keep (by bare id or Tombstone): removed when the activity's actor
    wrote it, refused otherwise; None when no comment has that id."""
    from fedicity.proposals import service

    comment = await queries.select_comment(ctx.conn, object_uri)
    if comment is None:
        return None
    if comment.author_uri != ctx.actor_uri:
        return Outcome.ignored("only the comment's author can delete it")
    try:
        await service.receive_comment_delete(
            ctx.conn,
            comment=comment,
            author_uri=ctx.actor_uri,
            env=service.Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen),
        )
    except service.ProposalError as refused:
        return Outcome.ignored(f"comment deletion refused: {refused}")
    return Outcome.done()


async def claim_created(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """A created Note that belongs to one of our proposals, handled; None for anything else.

    A Mastodon-shaped poll vote is a ballot, an amendment is an amendment, and any other Note in
    reply to the proposal (a Mastodon reply too) is a comment: none of them is a post."""
    if await is_vote(ctx, document):
        return await on_vote(ctx, activity, document)
    if await is_amendment(ctx, document):
        return await on_amendment(ctx, activity, document)
    if await is_comment(ctx, document):
        return await on_comment(ctx, activity, document)
    return None


async def claim_updated(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """An edited comment on one of our proposals, replaced; None for anything else."""
    if await is_comment_edit(ctx, document):
        return await on_comment_edit(ctx, activity, document)
    return None
