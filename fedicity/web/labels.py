"""Codes shown to people, in their words: organisation kinds, roles, proposal states, event
categories. Templates use the `label` filter (`kind|label("organization_kind")`); a code that is
not listed (a remote server's) is shown as it came."""

from __future__ import annotations

from typing import Final

from fedicity.web.i18n import gettext, lazy

LABELS: Final[dict[str, dict[str, str]]] = {
    "organization_kind": {
        "association": lazy("Association"),
        "company": lazy("Company"),
        "local_government": lazy("Local government"),
        "collective": lazy("Collective"),
        "informal_group": lazy("Informal group"),
        "project": lazy("Project"),
    },
    # A project's maturity, in the order it goes through them.
    "maturity": {
        "idea": lazy("Idea"),
        "concept": lazy("Concept"),
        "started": lazy("Started"),
        "development": lazy("In development"),
        "testing": lazy("Testing"),
        "mature": lazy("Mature"),
    },
    "territory_level": {
        "country": lazy("Country"),
        "region": lazy("Region"),
        "departement": lazy("Département"),
        "epci": lazy("Intercommunality"),
        "commune": lazy("Commune"),
        "quartier": lazy("Neighbourhood"),
    },
    "place_kind": {
        "compost_point": lazy("Compost point"),
        "shared_library": lazy("Shared library"),
        "artwork": lazy("Artwork"),
        "recycling_centre": lazy("Recycling centre"),
        "heritage": lazy("Heritage"),
        "parking": lazy("Parking"),
        "other": lazy("Other place"),
    },
    "membership_mode": {
        "open": lazy("Anyone can join"),
        "approval": lazy("On an admin's approval"),
        "invitation": lazy("By invitation only"),
    },
    "role": {
        "member": lazy("Member"),
        "moderator": lazy("Moderator"),
        "admin": lazy("Admin"),
    },
    "proposal_state": {
        "draft": lazy("Draft"),
        "amendable": lazy("Amendments open"),
        "voting": lazy("Vote open"),
        "closed": lazy("Closed"),
        "withdrawn": lazy("Withdrawn"),
        "archived": lazy("Archived"),
    },
    "domain_policy": {
        "suspend": lazy("Suspend: refuse everything"),
        "silence": lazy("Silence: keep out of public pages"),
        "noop": lazy("Only reject media or reports"),
        "allow": lazy("Allow (allowlist mode)"),
    },
    "domain_policy_public": {
        "suspend": lazy("Suspended"),
        "silence": lazy("Limited"),
        "noop": lazy("Partly limited"),
    },
    "event_category": {
        "ARTS": lazy("Arts"),
        "BOOK_CLUBS": lazy("Book clubs"),
        "BUSINESS": lazy("Business"),
        "CAUSES": lazy("Causes"),
        "COMEDY": lazy("Comedy"),
        "CRAFTS": lazy("Crafts"),
        "FOOD_DRINK": lazy("Food & drink"),
        "HEALTH": lazy("Health"),
        "MUSIC": lazy("Music"),
        "AUTO_BOAT_AIR": lazy("Auto, boat & air"),
        "COMMUNITY": lazy("Community"),
        "FAMILY_EDUCATION": lazy("Family & education"),
        "FASHION_BEAUTY": lazy("Fashion & beauty"),
        "FILM_MEDIA": lazy("Film & media"),
        "GAMES": lazy("Games"),
        "LANGUAGE_CULTURE": lazy("Language & culture"),
        "LEARNING": lazy("Learning"),
        "LGBTQ": lazy("LGBTQ"),
        "MOVEMENTS_POLITICS": lazy("Movements & politics"),
        "NETWORKING": lazy("Networking"),
        "PARTY": lazy("Party"),
        "PERFORMING_VISUAL_ARTS": lazy("Performing & visual arts"),
        "PETS": lazy("Pets"),
        "PHOTOGRAPHY": lazy("Photography"),
        "OUTDOORS_ADVENTURE": lazy("Outdoors & adventure"),
        "SPIRITUALITY_RELIGION_BELIEFS": lazy("Spirituality, religion & beliefs"),
        "SCIENCE_TECH": lazy("Science & tech"),
        "SPORTS": lazy("Sports"),
        "THEATRE": lazy("Theatre"),
        "MEETING": lazy("Meeting"),
    },
    "queue": {
        "inbox": lazy("Received activities"),
        "delivery": lazy("Deliveries"),
    },
    "domain_health": {
        "ok": lazy("Answering"),
        "failing": lazy("Failing"),
        "unavailable": lazy("Unavailable"),
    },
    "content_policy": {
        "keyword": lazy("Keywords"),
        "hashtag": lazy("Hashtags"),
        "mentions": lazy("Mentions per post"),
        "object_age": lazy("Old posts"),
        "new_actor_links": lazy("Links from new accounts"),
        "actor_type": lazy("Unknown kinds of account"),
    },
    "content_decision": {
        "reject": lazy("Rejected"),
        "flag": lazy("Flagged"),
        "hold": lazy("Held"),
        "held": lazy("Waiting"),
        "released": lazy("Released"),
        "rejected": lazy("Rejected"),
    },
    "report_category": {
        "spam": lazy("Spam"),
        "legal": lazy("Illegal content"),
        "violation": lazy("Breaks the instance's rules"),
        "other": lazy("Something else"),
    },
    "report_kind": {
        "post": lazy("A post"),
        "event": lazy("An event"),
        "proposal": lazy("A proposal"),
        "comment": lazy("A comment"),
        "actor": lazy("An account"),
        "place": lazy("A place"),
    },
    "report_resolution": {
        "dismissed": lazy("Looked at; no action was needed"),
        "content_removed": lazy("The content was removed"),
        "content_hidden": lazy("The content was taken off the territory's pages"),
        "account_silenced": lazy("The account was limited"),
        "account_suspended": lazy("The account was suspended"),
        "domain_suspended": lazy("The server was suspended"),
    },
    # Needs of organisations and projects (web/needs.py).
    "need_kind": {
        "material": lazy("Material"),
        "skill": lazy("Skill"),
        "service": lazy("Service"),
        "volunteering": lazy("Volunteering"),
        "money": lazy("Money"),
        "other": lazy("Other"),
    },
    "need_state": {
        "open": lazy("Open"),
        "fulfilled": lazy("This need is fulfilled: thank you!"),
        "closed": lazy("This need is closed."),
    },
    "need_action": {
        "open": lazy("Open it again"),
        "fulfilled": lazy("Mark fulfilled"),
        "closed": lazy("Close"),
    },
    "need_notice": {
        "saved": lazy("Saved."),
        "offered": lazy("Thank you: your offer to help was sent."),
        "withdrawn": lazy("Your offer to help was withdrawn."),
    },
}


def label(code: object, group: str) -> str:
    """The code's name in the request's language; an unknown code as it came."""
    text = "" if code is None else str(code)
    known = LABELS[group].get(text)
    return gettext(known) if known is not None else text
