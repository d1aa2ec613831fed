"""The only place that mints local IRIs: every URL shape the instance publishes is here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote


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

    def media(self, name: str) -> str:
        """Where an uploaded file (`<sha256>.<extension>`) is served."""
        return self.absolute(f"/media/{quote(name)}")

    def profile(self, username: str) -> str:
        """The human profile page of a local actor (Mastodon-style @name)."""
        return self.absolute(f"/@{quote(username)}")

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

    def replies(self, object_uri_token: str) -> str:
        """The replies collection of a local post."""
        return self.note(object_uri_token) + "/replies"

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
