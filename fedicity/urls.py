"""The only place that mints local IRIs: every URL shape the instance publishes is here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote


def territory_path(level: str, code: str) -> str:
    """The root-relative page (and actor url) of a territory: /territoires/<level>/<code>."""
    return f"/territoires/{quote(level, safe='')}/{quote(code, safe='')}"


def new_token() -> str:
    """An unguessable id token for the activities and objects we mint."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Urls:
    """Local IRIs for one instance, rooted at its base URL."""

    base: str

    def absolute(self, path: str) -> str:
        """Join a root-relative path to the base URL."""
        return self.base.rstrip("/") + path

    @property
    def root(self) -> str:
        """The instance root, with its trailing slash (FEP-d556 resource)."""
        return self.absolute("/")

    def actor(self, username: str) -> str:
        """The id of a local actor."""
        return self.absolute(f"/actors/{quote(username)}")

    def actor_key(self, username: str) -> str:
        """The id of a local actor's RSA public key."""
        return self.actor(username) + "#main-key"

    def actor_inbox(self, username: str) -> str:
        """A local actor's own inbox."""
        return self.actor(username) + "/inbox"

    def actor_outbox(self, username: str) -> str:
        """A local actor's outbox collection."""
        return self.actor(username) + "/outbox"

    def actor_followers(self, username: str) -> str:
        """A local actor's followers collection."""
        return self.actor(username) + "/followers"

    def actor_following(self, username: str) -> str:
        """A local actor's following collection."""
        return self.actor(username) + "/following"

    def actor_avatar(self, username: str) -> str:
        """The generated default avatar of a local actor."""
        return self.actor(username) + "/avatar.png"

    def username_in(self, path: str) -> str | None:
        """The username a local actor id's path (/actors/NAME) names; None for any other path."""
        return _last_segment(path, "/actors/")

    def profile_username_in(self, path: str) -> str | None:
        """The username a profile page's path (/@NAME) names; None for any other path."""
        return _last_segment(path, "/@")

    def territory(self, level: str, code: str) -> str:
        """The page of a territory, which its actor gives as its url."""
        return self.absolute(territory_path(level, code))

    def media(self, name: str) -> str:
        """Where an uploaded file (`<sha256>.<extension>`) is served."""
        return self.absolute(f"/media/{quote(name)}")

    def profile(self, username: str) -> str:
        """The human profile page of a local actor (Mastodon-style @name)."""
        return self.absolute(f"/@{quote(username)}")

    def organization_page(self, username: str) -> str:
        """The page of a local organisation: its members and what a visitor may do."""
        return self.absolute(f"/organizations/{quote(username)}")

    # Step 11: projects, points of interest, needs and offers, resolutions and actions.

    def project_page(self, username: str) -> str:
        """The page of a local project: its maturity, contributors, wall, agenda, rooms, needs."""
        return self.absolute(f"/projects/{quote(username)}")

    def project_need(self, project_uri: str, token: str) -> str:
        """A need of a project (what people may offer to help with), under the project's id."""
        return f"{project_uri}/needs/{quote(token)}"

    def actor_needs(self, owner_uri: str) -> str:
        """An organisation's or project's needs (OrderedCollection), under its id."""
        return f"{owner_uri}/needs"

    def place(self, token: str) -> str:
        """The id (and page) of a point of interest."""
        return self.absolute(f"/places/{quote(token)}")

    def listing(self, token: str) -> str:
        """The id (and page) of a need or an offer (a classified, a ressource, a job)."""
        return self.absolute(f"/listings/{quote(token)}")

    def resolution(self, token: str) -> str:
        """The id (and page) of a resolution: what a closed vote decided."""
        return self.absolute(f"/resolutions/{quote(token)}")

    def action(self, token: str) -> str:
        """The id (and page) of an action (a task) of a room or a resolution."""
        return self.absolute(f"/actions/{quote(token)}")

    def room_followers(self, room_uri: str) -> str:
        """Who follows a room (its proposals, resolutions and actions), from the room's id."""
        return room_uri + "/followers"

    @property
    def dashboard(self) -> str:
        """A citizen's dashboard: open proposals of their rooms, votes to cast, their actions."""
        return self.absolute("/dashboard")

    # Open data: the feeds, calendars, maps and tables each page advertises with
    # <link rel="alternate">, and the catalogue that lists them (DCAT-AP).

    def actor_feed(self, username: str, fmt: str) -> str:
        """An actor's public posts as a feed: fmt is "rss" (RSS 2.0) or "atom"."""
        return self.actor(username) + f"/feed.{fmt}"

    def actor_agenda(self, username: str) -> str:
        """An organiser's events as iCalendar."""
        return self.actor(username) + "/events.ics"

    def territory_feed(self, level: str, code: str, fmt: str) -> str:
        """A territory's live feed (with what happens below it): fmt is "rss" or "atom"."""
        return self.territory(level, code) + f"/feed.{fmt}"

    def territory_export(self, level: str, code: str, name: str) -> str:
        """One of a territory's open-data files: agenda.ics, map.geojson, organizations.csv,
        events.csv or proposals.csv (what happens in it and below it)."""
        return self.territory(level, code) + f"/{name}"

    def proposals_feed(self, fmt: str) -> str:
        """The proposals as a feed (fmt "rss" or "atom"); `?state=` narrows it to one state."""
        return self.absolute(f"/proposals/feed.{fmt}")

    def tag_agenda(self, name: str) -> str:
        """The events carrying a hashtag, as iCalendar."""
        return self.tag(name) + "/agenda.ics"

    def event_ical(self, token: str) -> str:
        """One event as iCalendar."""
        return self.event(token) + ".ics"

    @property
    def opendata(self) -> str:
        """The page listing the instance's datasets, their formats and licence."""
        return self.absolute("/opendata")

    @property
    def catalogue(self) -> str:
        """The catalogue of the instance's datasets (DCAT-AP, JSON-LD)."""
        return self.absolute("/opendata/catalogue.jsonld")

    @property
    def instance_actor(self) -> str:
        """The instance actor, which signs server-level fetches."""
        return self.absolute("/actor")

    @property
    def instance_actor_key(self) -> str:
        """The instance actor's key id."""
        return self.instance_actor + "#main-key"

    @property
    def instance_actor_inbox(self) -> str:
        """The instance actor's inbox."""
        return self.instance_actor + "/inbox"

    @property
    def instance_actor_outbox(self) -> str:
        """The instance actor's outbox."""
        return self.instance_actor + "/outbox"

    @property
    def shared_inbox(self) -> str:
        """The shared inbox for the whole instance."""
        return self.absolute("/inbox")

    def activity(self, token: str) -> str:
        """An activity we published."""
        return self.absolute(f"/activities/{quote(token)}")

    def note(self, token: str) -> str:
        """A post (Note) we published."""
        return self.absolute(f"/notes/{quote(token)}")

    def actor_liked(self, username: str) -> str:
        """What a local actor liked."""
        return self.actor(username) + "/liked"

    def actor_members(self, username: str) -> str:
        """A local organisation's members collection."""
        return self.actor(username) + "/members"

    def actor_moderators(self, username: str) -> str:
        """A local organisation's moderators collection (FEP-1b12)."""
        return self.actor(username) + "/moderators"

    def followers_of(self, actor_uri: str) -> str:
        """The followers collection of a local actor, from its id."""
        return actor_uri + "/followers"

    def event(self, token: str) -> str:
        """The id (and page) of a local event."""
        return self.absolute(f"/events/{quote(token)}")

    def proposal(self, token: str) -> str:
        """The id (and page) of a local proposal."""
        return self.absolute(f"/proposals/{quote(token)}")

    def room(self, token: str) -> str:
        """The id (and page) of a room."""
        return self.absolute(f"/rooms/{quote(token)}")

    def tag(self, name: str) -> str:
        """The page of a hashtag: what a path cannot hold (`?`, `#`, `/`, `%`, spaces) escaped,
        letters beyond ASCII kept as they are (an IRI, as hashtags' hrefs have it)."""
        escaped = "".join(c if ord(c) > 127 else quote(c, safe="") for c in name)
        return self.absolute(f"/tags/{escaped}")

    @property
    def tag_template(self) -> str:
        """The page of a hashtag, with `{tag}` to fill (str.format)."""
        return self.absolute("/tags/{tag}")

    # Objects under one of our objects, named from its id: a re-sent Create keeps its id, and
    # a collection or a comment lives where its owner does.

    def create_activity(self, object_uri: str) -> str:
        """The Create that first published one of our objects."""
        return object_uri + "/activity"

    def replies(self, object_uri: str) -> str:
        """The replies collection of one of our posts or proposals."""
        return object_uri + "/replies"

    def attendees(self, event_uri: str) -> str:
        """The attendees collection of a local event."""
        return event_uri + "/attendees"

    def companion_poll(self, event_uri: str) -> str:
        """The companion poll (a Question) of a local event."""
        return event_uri + "/poll"

    def event_of_poll(self, poll_uri: str) -> str | None:
        """The event a companion poll's id belongs to; None when it is not such an id here."""
        if not poll_uri.startswith(self.absolute("/events/")) or not poll_uri.endswith("/poll"):
            return None
        return poll_uri.removesuffix("/poll")

    def poll_answer_note(self, activity_uri: str) -> str:
        """The Note an answer to a companion poll embeds, under the activity that carries it."""
        return activity_uri + "/note"

    def amendments(self, proposal_uri: str) -> str:
        """The amendments collection of a local proposal."""
        return proposal_uri + "/amendments"

    def amendment(self, proposal_uri: str, token: str) -> str:
        """An amendment to a proposal, written here."""
        return f"{proposal_uri}/amendments/{quote(token)}"

    def comment(self, proposal_uri: str, token: str) -> str:
        """A comment on a proposal, written here."""
        return f"{proposal_uri}/comments/{quote(token)}"

    @property
    def context(self) -> str:
        """Where this instance serves the fc: JSON-LD context."""
        return self.absolute("/ns/fedicity.jsonld")

    def nodeinfo(self, version: str) -> str:
        """A NodeInfo document of the given schema version."""
        return self.absolute(f"/nodeinfo/{version}")

    @property
    def webfinger_template(self) -> str:
        """The lrdd template advertised in host-meta."""
        return self.absolute("/.well-known/webfinger?resource={uri}")

    @property
    def authorize_interaction_template(self) -> str:
        """The OStatus subscribe template: where a remote handle is followed from."""
        return self.absolute("/authorize_interaction?uri={uri}")


# The routes answered in front of Quart (web/inbox.py, web/activitypub.py), as their metrics and
# access log lines name them.
SHARED_INBOX_ROUTE = "/inbox"
INSTANCE_INBOX_ROUTE = "/actor/inbox"
ACTOR_INBOX_ROUTE = "/actors/<username>/inbox"
ACTOR_ROUTE = "/actors/<username>"


def front_route(path: str) -> tuple[str, str | None] | None:
    """Which of the routes answered in front of Quart a request path (decoded, as routing sees
    it) goes to, with the username it names; None for any other path."""
    if path in (SHARED_INBOX_ROUTE, INSTANCE_INBOX_ROUTE):
        return path, None
    rest = path.removeprefix("/actors/")
    name, slash, tail = rest.partition("/")
    if rest == path or not name:
        return None
    if not slash:
        return ACTOR_ROUTE, name
    return (ACTOR_INBOX_ROUTE, name) if tail == "inbox" else None


def _last_segment(path: str, prefix: str) -> str | None:
    """What follows `prefix` in `path` (unquoted) when it is one non-empty segment."""
    rest = path.rstrip("/").removeprefix(prefix)
    if rest == path.rstrip("/") or not rest or "/" in rest:
        return None
    return unquote(rest)
