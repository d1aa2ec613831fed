"""Hostile resolutions and actions from the network: each refusal has its reason, what is kept
is bounded and cleaned, and nothing raises (pure: the parser alone)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fedicity.proposals.parse import resolution_from_ap, task_from_ap

NOW = datetime(2026, 12, 6, tzinfo=UTC)
ACTOR = "https://other.example/actors/velo"


def _task(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "https://other.example/actions/a1",
        "type": "Page",
        "kind": "Task",
        "name": "Peindre",
        "attributedTo": ACTOR,
        "taskStatus": "todo",
        "content": "<p>ok</p>",
        "published": "2026-12-01T10:00:00Z",
    }
    document.update(changes)
    return document


def _resolution(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "https://other.example/resolutions/r1",
        "type": "Article",
        "kind": "Resolution",
        "name": "Résolution : Une piste",
        "attributedTo": ACTOR,
        "inReplyTo": "https://other.example/proposals/p1",
        "context": "https://other.example/rooms/s1",
        "adopted": True,
        "tally": {"Pour": 3, "Contre": 1},
        "content": "<p>Adoptée.</p>",
        "published": "2026-12-01T10:00:00Z",
    }
    document.update(changes)
    return document


def test_hostile_actions_and_resolutions_are_refused_or_cleaned() -> None:
    def task(**changes: Any) -> dict[str, Any] | str:
        return task_from_ap(_task(**changes), actor_uri=ACTOR, now=NOW)

    def resolution(**changes: Any) -> dict[str, Any] | str:
        return resolution_from_ap(_resolution(**changes), actor_uri=ACTOR, now=NOW)

    # Refused, each with its reason
    assert task(id="https://evil.example/actions/a1") == "the object is not on its publisher's host"
    assert task(attributedTo="https://other.example/actors/someone") == (
        "the object's publisher is not the activity's actor"
    )
    assert task(taskStatus="bof") == "the action's status is unknown"
    assert task(taskStatus={"deep": [[[["todo"]]]]}) == "the action's status is unknown"
    assert task(name="\x00 ") == "the action has no name"
    assert task(name=["a list"]) == "the action has no name"
    assert task(startTime="2027-02-01T00:00:00Z", endTime="2027-01-01T00:00:00Z") == (
        "the action ends before it starts"
    )
    assert resolution(inReplyTo="https://evil.example/proposals/p1") == (
        "the resolution is not of a proposal of its publisher's host"
    )
    assert resolution(inReplyTo=None) == (
        "the resolution is not of a proposal of its publisher's host"
    )
    # Kept, cleaned and bounded
    kept = task(
        name="T\x00" + "x" * 10_000,
        content="<p onclick='x'>Hi<script>alert(1)</script></p>",
        assignedTo=[
            "javascript:alert(1)",
            "https://other.example/users/ana",
            "https://other.example/users/ana",
            {"id": "https://third.example/users/bo"},
            {"deep": {"deeper": {}}},
        ],
        startTime="not a date",
        endTime="99999-01-01T00:00:00Z",
        context="https://evil.example/rooms/s1",
        resolution="javascript:alert(1)",
    )
    assert isinstance(kept, dict)
    assert kept["title"] == "T" + "x" * 199
    assert "<script>" not in kept["description_html"]
    assert "onclick" not in kept["description_html"]
    assert kept["assignees"] == [
        "https://other.example/users/ana",
        "https://third.example/users/bo",
    ]
    assert (kept["starts"], kept["ends"]) == (None, None)
    assert kept["room_uri"] is None
    assert kept["resolution_uri"] is None
    many = task(assignedTo=[f"https://other.example/users/u{n}" for n in range(1000)])
    assert isinstance(many, dict)
    assert len(many["assignees"]) == 100
    decided = resolution(
        name="Résolution : " + "y" * 5000,
        adopted="yes",
        tally={
            "Pour": True,
            "Contre": -4,
            "Abstention": 10**12,
            "Blanc": "7",
            "Nul\x00": 2,
            **{f"o{n}": 1 for n in range(100)},
        },
    )
    assert isinstance(decided, dict)
    assert len(decided["title"]) == 200
    assert decided["adopted"] is None
    assert decided["tally"] == {"Nul": 2, **{f"o{n}": 1 for n in range(15)}}
    assert decided["outcome"] == "chosen"
    assert decided["chosen"] == "Nul"
    plain = resolution()
    assert isinstance(plain, dict)
    assert (plain["adopted"], plain["outcome"], plain["title"]) == (True, "adopted", "Une piste")
    assert plain["room_uri"] == "https://other.example/rooms/s1"
