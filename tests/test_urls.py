"""Every URL shape the instance publishes or links to is minted in fedicity/urls.py (or, for a
route's own form actions and redirects, by url_for from the route table): nothing else spells
one out."""

from __future__ import annotations

import re
from pathlib import Path

from fedicity.urls import Urls, front_route, territory_path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "fedicity"
URLS = Urls("https://ville.example")

SEGMENTS = (
    "events|proposals|rooms|notes|activities|tags|media|actors|organizations|territoires|"
    "amendments|comments|projects|needs|places|listings|resolutions|actions"
)
# A literal path with one of our segments followed by more, or a suffix glued onto an id.
_PY_SHAPE = re.compile(rf"[\"'][^\"'\s]*/(?:{SEGMENTS})/|[\"']/@|\+ [\"']/[a-z_.]+[\"']")
_ROUTE = re.compile(r"^\s*@\w+\.(?:get|post|route|put|delete)\(")
_TEMPLATE_SHAPE = re.compile(rf"/(?:{SEGMENTS})/\{{\{{|\}}\}}/[a-z_]+\"|\}}\}}\.ics")


def test_no_module_spells_out_a_url_shape() -> None:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "urls.py" and path.parent == SOURCE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PY_SHAPE.search(line) and not _ROUTE.match(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    allowed = {
        # Reading a remote collection's name is not minting one of ours.
        'if any(uri.endswith("/followers") for uri in to + cc):',
        # iCalendar's product identifier, not a path.
        'PRODID = "-//fedicity//events//FR"',
    }
    assert [line for line in found if line.split(": ", 1)[1] not in allowed] == []


def test_no_template_spells_out_a_url_shape() -> None:
    found = []
    for path in sorted((SOURCE / "web" / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _TEMPLATE_SHAPE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert found == []


def test_objects_and_what_hangs_under_them() -> None:
    event = URLS.event("abc")
    assert event == "https://ville.example/events/abc"
    assert URLS.attendees(event) == event + "/attendees"
    assert URLS.create_activity(event) == event + "/activity"
    poll = URLS.companion_poll(event)
    assert poll == event + "/poll"
    assert URLS.event_of_poll(poll) == event
    assert URLS.event_of_poll("https://ville.example/notes/x/poll") is None
    assert URLS.event_of_poll("https://ailleurs.example/events/abc/poll") is None
    proposal = URLS.proposal("p1")
    assert URLS.comment(proposal, "c1") == "https://ville.example/proposals/p1/comments/c1"
    assert URLS.amendment(proposal, "a1") == "https://ville.example/proposals/p1/amendments/a1"
    assert URLS.replies(proposal) == proposal + "/replies"
    assert URLS.room("r1") == "https://ville.example/rooms/r1"
    assert URLS.tag("vélo") == "https://ville.example/tags/vélo"
    assert URLS.tag("a?b#c/d%e f") == "https://ville.example/tags/a%3Fb%23c%2Fd%25e%20f"
    assert URLS.tag_agenda("a?b") == "https://ville.example/tags/a%3Fb/agenda.ics"
    assert URLS.tag_template.format(tag="vélo") == URLS.tag("vélo")
    assert URLS.territory("commune", "93048") == "https://ville.example/territoires/commune/93048"
    assert territory_path("commune", "93048") == "/territoires/commune/93048"
    assert URLS.actor_members("velo") == URLS.actor("velo") + "/members"
    assert URLS.project_page("jardin") == "https://ville.example/projects/jardin"
    project = URLS.actor("jardin")
    assert URLS.project_need(project, "n 1") == project + "/needs/n%201"
    assert URLS.place("p1") == "https://ville.example/places/p1"
    assert URLS.listing("l1") == "https://ville.example/listings/l1"
    assert URLS.resolution("r1") == "https://ville.example/resolutions/r1"
    assert URLS.action("a1") == "https://ville.example/actions/a1"
    assert URLS.room_followers(URLS.room("r1")) == URLS.room("r1") + "/followers"
    assert URLS.dashboard == "https://ville.example/dashboard"


def test_usernames_are_read_back_from_our_paths() -> None:
    assert URLS.username_in("/actors/camille") == "camille"
    assert URLS.username_in("/actors/camille/") == "camille"
    assert URLS.username_in("/actors/cam%C3%A9lia") == "camélia"
    assert URLS.username_in("/actors/camille/outbox") is None
    assert URLS.username_in("/actors/") is None
    assert URLS.username_in("/@camille") is None
    assert URLS.profile_username_in("/@camille") == "camille"
    assert URLS.profile_username_in("/@") is None


def test_front_routes_are_read_from_decoded_paths() -> None:
    assert front_route("/inbox") == ("/inbox", None)
    assert front_route("/actor/inbox") == ("/actor/inbox", None)
    assert front_route("/actors/camille") == ("/actors/<username>", "camille")
    assert front_route("/actors/élise/inbox") == ("/actors/<username>/inbox", "élise")
    for other in ("/actors/", "/actors//inbox", "/actors/camille/outbox", "/inbox/", "/actor"):
        assert front_route(other) is None, other
