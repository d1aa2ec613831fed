"""Dataclasses for notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Kind = Literal[
    "follow",
    "follow_request",
    "mention",
    "reply",
    "like",
    "announce",
    "rsvp",
    "rsvp_accepted",
    "rsvp_refused",
    "proposal_vote",
    "proposal_comment",
    "membership_request",
    "membership_accepted",
    "membership_refused",
    # A place opened up at an event the recipient was waiting for: they now take part.
    "waiting_list_promoted",
    # A report the recipient made was handled (the outcome, not the moderator's reasons).
    "report_resolved",
    # News of a room the recipient follows: a new proposal, a resolution, an action or its change.
    "room_proposal",
    "room_resolution",
    "room_action",
    # Reports the recipient made opened a co-moderation vote among the residents or members.
    "comoderation_opened",
    # Needs (migration 0039): an offer to help reached the owner's admins; the helper's answer.
    "need_offer",
    "need_offer_accepted",
    "need_offer_declined",
]
KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True)
class Notification:
    """One thing that happened to `recipient_id`: `actor_uri` did `kind` about `object_uri`."""

    id: int
    recipient_id: int
    kind: Kind
    actor_uri: str
    object_uri: str
    created_at: datetime
    read_at: datetime | None
