"""Ours -> ActivityStreams: proposals as Questions, amendments and comments as Notes, rooms as
fc:Room objects, and the activities that publish them (pure).

A proposal is a `Question` (`oneOf`, or `anyOf` for multiple choice) whose options carry their
counts in `replies.totalItems`, so any Mastodon-compatible app shows it as a poll; the rest of the
proposal (state, majority, electorate, result, official answer...) is in `fc:` terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from fedicity.activitypub.activities import EMBEDDED, activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.proposals.models import Amendment, Comment, Proposal, Resolution, Room, Tally, Task
from fedicity.textfmt import title_html
from fedicity.urls import Urls

MAX_AMENDMENTS_LISTED = 100
MAX_COMMENTS_LISTED = 100
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
    "moderationOf": {"@id": "fc:moderationOf", "@type": "@id"},
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
# A resolution is an Article and an action a Page (Mastodon shows both), with their fc: terms.
FOLLOW_UP_EXTENSION: dict[str, Any] = {
    "fc": "https://fedicity.org/ns#",
    "kind": "fc:kind",
    "adopted": "fc:adopted",
    "tally": "fc:tally",
    "taskStatus": "fc:taskStatus",
    "assignedTo": {"@id": "fc:assignedTo", "@type": "@id"},
    "resolution": {"@id": "fc:resolution", "@type": "@id"},
}
# The status of an action in words, in the text Mastodon shows (the instance speaks French).
TASK_STATUS_WORDS = {
    "todo": "à faire",
    "in_progress": "en cours",
    "done": "terminée",
    "abandoned": "abandonnée",
}
# An amendment is a Note with the fc:Amendment type beside it (Mastodon shows the Note).
AMENDMENT_EXTENSION: dict[str, Any] = {
    "fc": "https://fedicity.org/ns#",
    "Amendment": "fc:Amendment",
    "amendmentState": "fc:amendmentState",
    "upVotes": "fc:upVotes",
    "downVotes": "fc:downVotes",
}


def markdown_source(source: str | None) -> dict[str, str] | None:
    """`source` of a text rendered from Markdown (as Mastodon and Misskey send it), so that a
    peer may show or edit what was typed; None when there is no source."""
    return {"content": source, "mediaType": "text/markdown"} if source else None


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
    document = _question(proposal, tally, urls, followers=followers)
    optional = _optional_terms(proposal, audience_uri=audience_uri, room=room)
    document.update({key: value for key, value in optional.items() if value is not None})
    if amendments:
        document["amendments"] = _amendments_collection(proposal, amendments, urls)
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


def _question(
    proposal: Proposal, tally: Tally | None, urls: Urls, *, followers: str
) -> dict[str, Any]:
    """The members every Question has: the poll Mastodon reads, and the fc: terms of a vote."""
    counts, voters = counts_of(proposal, tally)
    choices = [
        {
            "type": "Note",
            "name": option,
            "replies": {"type": "Collection", "totalItems": counts.get(option, 0)},
        }
        for option in proposal.options
    ]
    return {
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
        "ballot": proposal.ballot,
        # Kept for fedicity servers that predate `ballot`.
        "anonymousVotes": proposal.secret,
        "voteChangeAllowed": proposal.vote_change_allowed,
        "electorate": proposal.electorate,
        "federatedVotesCount": proposal.federated_votes_count,
    }


def _optional_terms(
    proposal: Proposal, *, audience_uri: str | None, room: Room | None
) -> dict[str, Any]:
    """The members a Question has only when they have a value (None: left out)."""
    optional: dict[str, Any] = {
        "endTime": _date(proposal.voting_ends),
        "votingOpens": _date(proposal.voting_opens),
        "amendableUntil": _date(proposal.amendable_until),
        "updated": _date(proposal.updated),
        "result": proposal.result,
        "officialAnswer": proposal.official_answer,
        "audience": audience_uri,
        "context": proposal.organization_uri,
        "room": room_ref(proposal, room),
        "source": markdown_source(proposal.content_source),
        "moderationOf": proposal.moderation_of,
    }
    if proposal.state in ("closed", "withdrawn", "archived"):
        # Mastodon shows a poll with `closed` as finished and refuses votes in the app.
        optional["closed"] = format_datetime(
            proposal.voting_ends or proposal.updated or proposal.published
        )
    return optional


def _date(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment else None


def _amendments_collection(
    proposal: Proposal, amendments: Sequence[Amendment], urls: Urls
) -> dict[str, Any]:
    """`fc:amendments` of a Question: each amendment with its state and its up/down votes."""
    return {
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
                **_with_source(amendment.content_source),
            }
            for amendment in amendments[:MAX_AMENDMENTS_LISTED]
        ],
    }


def _with_source(source: str | None) -> dict[str, Any]:
    found = markdown_source(source)
    return {"source": found} if found else {}


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
    document["followers"] = urls.room_followers(room.uri)
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
        **_with_source(comment.content_source),
    }
    if with_context:
        document = {"@context": [AS_CONTEXT, COMMENT_EXTENSION], **document}
    return document


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
        **_with_source(amendment.content_source),
    }
    if amendment.decided_at is not None:
        document["updated"] = format_datetime(amendment.decided_at)
    if with_context:
        document = {"@context": [AS_CONTEXT, AMENDMENT_EXTENSION], **document}
    return document


def question_activity(
    question: Mapping[str, Any],
    proposal: Proposal,
    urls: Urls,
    *,
    activity_id: str,
    first: bool,
    followers: str,
    now: datetime,
) -> dict[str, Any]:
    """The Create of a proposal's Question the first time it leaves draft (dated like it), an
    Update dated now afterwards; addressed like the Question, to its audience too."""
    embedded = {key: value for key, value in question.items() if key != "@context"}
    return activity(
        "Create" if first else "Update",
        id=activity_id,
        actor=proposal.author_uri,
        object=embedded,
        to=[PUBLIC],
        cc=[followers],
        published=embedded["published"] if first else format_datetime(now),
        context=[AS_CONTEXT, urls.context],
        audience=embedded.get("audience"),
    )


def comment_create(note: Mapping[str, Any], urls: Urls) -> dict[str, Any]:
    """The Create of a local comment's Note (`comment_to_ap` without its context), dated and
    addressed like the Note."""
    return activity(
        "Create",
        id=urls.create_activity(note["id"]),
        actor=note["attributedTo"],
        object=note,
        to=note["to"],
        cc=note["cc"],
        published=note["published"],
        context=[AS_CONTEXT, urls.context],
    )


def amendment_create(note: Mapping[str, Any], urls: Urls) -> dict[str, Any]:
    """The Create of a local amendment's Note (`amendment_to_ap` without its context),
    addressed like the Note."""
    return activity(
        "Create",
        id=urls.create_activity(note["id"]),
        actor=note["attributedTo"],
        object=note,
        to=note["to"],
        cc=note["cc"],
        context=[AS_CONTEXT, urls.context],
    )


def resolution_words(resolution: Resolution) -> str:
    """The outcome of a vote in a sentence (French, as the instance's texts)."""
    if resolution.outcome == "adopted":
        return "Adoptée."
    if resolution.outcome == "rejected":
        return "Rejetée."
    if resolution.outcome == "chosen" and resolution.chosen is not None:
        return f"Option retenue : {resolution.chosen}."
    if resolution.outcome == "tie":
        return "Égalité : aucune option retenue."
    return "Aucun vote exprimé."


def resolution_to_ap(
    resolution: Resolution, *, owner_followers: str, room_followers: str | None
) -> dict[str, Any]:
    """A resolution as an Article (fc:kind Resolution) in reply to its proposal, in its room's
    context: its name, outcome, tally and the text as voted readable in Mastodon."""
    tally = "".join(
        f"<li>{escape(option)} : {count}</li>" for option, count in resolution.tally.items()
    )
    content = (
        f"<p><strong>{escape(resolution_words(resolution))}</strong> "
        f"{resolution.voters} votant(s).</p><ul>{tally}</ul>{resolution.content_html}"
    )
    document: dict[str, Any] = {
        "@context": [AS_CONTEXT, FOLLOW_UP_EXTENSION],
        "id": resolution.uri,
        "type": "Article",
        "kind": "Resolution",
        "name": f"Résolution : {resolution.title}",
        "content": content,
        "url": resolution.uri,
        "attributedTo": resolution.attributed_to,
        "inReplyTo": resolution.proposal_uri,
        "published": format_datetime(resolution.closed_at),
        "to": [PUBLIC],
        "cc": [owner_followers, *([room_followers] if room_followers else [])],
        "tally": dict(resolution.tally),
    }
    if resolution.adopted is not None:
        document["adopted"] = resolution.adopted
    if resolution.room_uri:
        document["context"] = resolution.room_uri
    return document


def task_text(task: Task, names: Mapping[str, str]) -> str:
    """The line Mastodon shows under an action's title: its status and who took it."""
    taken = ", ".join(names.get(uri, uri) for uri in task.assignees) or "personne"
    return f"Statut : {TASK_STATUS_WORDS[task.status]} · Assignée à {taken}"


def task_to_ap(
    task: Task,
    *,
    owner_followers: str,
    room_followers: str | None,
    names: Mapping[str, str],
) -> dict[str, Any]:
    """An action as a Page (fc:kind Task) in its room's context, with its status, who took it,
    its dates and its resolution; the status and assignees in words for Mastodon."""
    content = (
        f"<p><strong>{escape(task.title)}</strong></p>"
        f"<p>{escape(task_text(task, names))}</p>{task.description_html}"
    )
    document: dict[str, Any] = {
        "@context": [AS_CONTEXT, FOLLOW_UP_EXTENSION],
        "id": task.uri,
        "type": "Page",
        "kind": "Task",
        "name": task.title,
        "content": content,
        "url": task.uri,
        "attributedTo": task.attributed_to,
        "published": format_datetime(task.published),
        "to": [PUBLIC],
        "cc": [owner_followers, *([room_followers] if room_followers else [])],
        "taskStatus": task.status,
        "assignedTo": list(task.assignees),
    }
    optional = {
        "context": task.room_uri,
        "resolution": task.resolution_uri,
        "startTime": _date(task.starts),
        "endTime": _date(task.ends),
        "updated": _date(task.updated),
        "source": markdown_source(task.description_source),
    }
    document.update({key: value for key, value in optional.items() if value is not None})
    return document


def follow_up_activity(
    type_: str, document: Mapping[str, Any], *, activity_id: str, now: datetime
) -> dict[str, Any]:
    """Create, Update or Delete of a resolution or an action, by its publisher, addressed like
    it (a Delete carries a Tombstone)."""
    embedded: Any = {key: value for key, value in document.items() if key != "@context"}
    if type_ == "Delete":
        embedded = {"id": document["id"], "type": "Tombstone"}
    return activity(
        type_,
        id=activity_id,
        actor=document["attributedTo"],
        object=embedded,
        to=document["to"],
        cc=document["cc"],
        published=format_datetime(now),
        context=document["@context"],
    )


def room_follow_answer(
    activity_uri: str, *, owner: str, follower: str, follow_uri: str | None, room_uri: str
) -> dict[str, Any]:
    """The owner's Accept of a Follow of its room, embedding the Follow."""
    follow = activity("Follow", id=follow_uri, actor=follower, object=room_uri, context=EMBEDDED)
    return activity("Accept", id=activity_uri, actor=owner, object=follow, to=[follower])


def room_followers_collection(room: Room, count: int, urls: Urls) -> dict[str, Any]:
    """A room's followers: how many, not who."""
    return {
        "@context": AS_CONTEXT,
        "id": urls.room_followers(room.uri),
        "type": "OrderedCollection",
        "totalItems": count,
    }
