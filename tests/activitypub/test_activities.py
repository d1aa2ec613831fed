"""The one builder of outgoing activities."""

from __future__ import annotations

from fedicity.activitypub.activities import EMBEDDED, activity
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC

ME = "https://ville.example/actors/camille"
THEM = "https://social.example/users/alice"


def test_a_full_activity_has_its_members_in_order() -> None:
    built = activity(
        "Create",
        id=ME + "/notes/1/activity",
        actor=ME,
        object={"id": ME + "/notes/1", "type": "Note"},
        to=[PUBLIC],
        cc=[ME + "/followers"],
        published="2026-12-05T10:00:00Z",
        audience="https://ville.example/actors/montreuil",
    )
    assert list(built) == [
        "@context",
        "id",
        "type",
        "actor",
        "published",
        "to",
        "cc",
        "object",
        "audience",
    ]
    assert built["@context"] == AS_CONTEXT
    assert built["to"] == [PUBLIC]


def test_empty_addressing_and_none_members_are_left_out() -> None:
    built = activity("Follow", id=ME + "#follows/1", actor=ME, object=THEM, to=[THEM], target=None)
    assert built == {
        "@context": AS_CONTEXT,
        "id": ME + "#follows/1",
        "type": "Follow",
        "actor": ME,
        "to": [THEM],
        "object": THEM,
    }


def test_an_embedded_activity_has_no_context_and_may_have_no_id() -> None:
    follow = activity("Follow", id=None, actor=THEM, object=ME, context=EMBEDDED)
    assert follow == {"type": "Follow", "actor": THEM, "object": ME}
    undo = activity("Undo", id=ME + "#undo/1", actor=ME, object=follow, to=(THEM,))
    assert undo["object"] is follow
    assert isinstance(undo["to"], list)
