-- Server-to-server federation: remote actors and their keys, follows, the inbox mailbox, outgoing
-- activities and their deliveries, peer domain health and policy, posts and interactions, reports.

-- Whether a local actor's followers and following collections list their members.
ALTER TABLE actors ADD COLUMN hide_network boolean NOT NULL DEFAULT false;

CREATE TABLE remote_actors (
    id                          bigserial   PRIMARY KEY,
    uri                         text        NOT NULL UNIQUE,
    domain                      text        NOT NULL,
    type                        text        NOT NULL,
    username                    text,
    display_name                text        NOT NULL DEFAULT '',
    summary_html                text        NOT NULL DEFAULT '',
    url                         text,
    icon_url                    text,
    inbox                       text        NOT NULL,
    shared_inbox                text,
    followers_uri               text,
    key_id                      text,
    public_key_pem              text,
    manually_approves_followers boolean     NOT NULL DEFAULT false,
    also_known_as               text[]      NOT NULL DEFAULT '{}',
    moved_to                    text,
    raw                         jsonb       NOT NULL,
    fetched_at                  timestamptz NOT NULL,
    deleted_at                  timestamptz
);
CREATE INDEX remote_actors_key_id ON remote_actors (key_id);
CREATE INDEX remote_actors_domain ON remote_actors (domain);

-- Follow relations between any two actors, by URI (local actors' URIs are minted by urls.py).
CREATE TABLE follows (
    id            bigserial   PRIMARY KEY,
    follower      text        NOT NULL,
    followee      text        NOT NULL,
    activity_uri  text,
    state         text        NOT NULL CHECK (state IN ('pending', 'accepted')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    accepted_at   timestamptz,
    UNIQUE (follower, followee)
);
CREATE INDEX follows_followee ON follows (followee, state, id);
CREATE INDEX follows_follower ON follows (follower, state, id);

-- The inbox is a mailbox: rows are stored verified and answered 202; the worker interprets them.
CREATE TABLE inbox_items (
    id              bigserial   PRIMARY KEY,
    activity_uri    text        NOT NULL UNIQUE,
    actor_uri       text        NOT NULL,
    type            text        NOT NULL,
    recipient       text,
    raw             jsonb       NOT NULL,
    key_id          text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz
);
CREATE INDEX inbox_items_due ON inbox_items (next_attempt_at) WHERE state = 'pending';

-- Activities we published, kept to serve at their ids and to (re)deliver.
CREATE TABLE outbox_activities (
    id             bigserial   PRIMARY KEY,
    uri            text        NOT NULL UNIQUE,
    actor_id       bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    type           text        NOT NULL,
    object_uri     text,
    raw            jsonb       NOT NULL,
    public         boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_activities_actor ON outbox_activities (actor_id, id DESC);

-- One row per distinct target inbox of an outgoing activity.
CREATE TABLE deliveries (
    id              bigserial   PRIMARY KEY,
    activity_id     bigint      NOT NULL REFERENCES outbox_activities (id) ON DELETE CASCADE,
    inbox           text        NOT NULL,
    domain          text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';

-- How each peer domain has been answering; a domain failing on many days is skipped until it answers.
CREATE TABLE domain_health (
    domain          text        PRIMARY KEY,
    failure_days    date[]      NOT NULL DEFAULT '{}',
    last_failure_at timestamptz,
    last_success_at timestamptz,
    unavailable     boolean     NOT NULL DEFAULT false
);

-- Admin decisions about peer domains.
CREATE TABLE domain_policies (
    domain      text        PRIMARY KEY,
    action      text        NOT NULL CHECK (action IN ('suspend', 'silence', 'allow')),
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Notes, articles, pages and questions, local and remote.
CREATE TABLE posts (
    id            bigserial   PRIMARY KEY,
    uri           text        NOT NULL UNIQUE,
    author_uri    text        NOT NULL,
    local_actor_id bigint     REFERENCES actors (id) ON DELETE CASCADE,
    type          text        NOT NULL,
    name          text,
    summary       text,
    content_html  text        NOT NULL DEFAULT '',
    in_reply_to   text,
    url           text,
    visibility    text        NOT NULL
                              CHECK (visibility IN ('public', 'unlisted', 'followers', 'direct')),
    to_uris       text[]      NOT NULL DEFAULT '{}',
    cc_uris       text[]      NOT NULL DEFAULT '{}',
    sensitive     boolean     NOT NULL DEFAULT false,
    language      text,
    published     timestamptz NOT NULL,
    updated       timestamptz,
    deleted_at    timestamptz,
    raw           jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_author ON posts (author_uri, published DESC, id DESC);
CREATE INDEX posts_in_reply_to ON posts (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE INDEX posts_local_public ON posts (published DESC, id DESC)
    WHERE local_actor_id IS NOT NULL AND visibility = 'public' AND deleted_at IS NULL;

CREATE TABLE post_mentions (
    post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    actor_uri  text   NOT NULL,
    PRIMARY KEY (post_id, actor_uri)
);
CREATE INDEX post_mentions_actor ON post_mentions (actor_uri, post_id DESC);

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag     text   NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag ON post_tags (tag, post_id DESC);

-- Likes and Announces (boosts), by their activity URI.
CREATE TABLE interactions (
    id           bigserial   PRIMARY KEY,
    activity_uri text        NOT NULL UNIQUE,
    kind         text        NOT NULL CHECK (kind IN ('like', 'announce')),
    actor_uri    text        NOT NULL,
    object_uri   text        NOT NULL,
    published    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, actor_uri, object_uri)
);
CREATE INDEX interactions_object ON interactions (object_uri, kind);
CREATE INDEX interactions_actor ON interactions (actor_uri, kind, id DESC);

-- Blocks sent to us (a remote actor blocking a local one).
CREATE TABLE blocks (
    id           bigserial   PRIMARY KEY,
    activity_uri text        NOT NULL UNIQUE,
    blocker      text        NOT NULL,
    blocked      text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (blocker, blocked)
);

-- Reports (Flag) received from other servers, for the admins.
CREATE TABLE reports (
    id           bigserial   PRIMARY KEY,
    activity_uri text        NOT NULL UNIQUE,
    reporter     text        NOT NULL,
    targets      text[]      NOT NULL,
    content      text        NOT NULL DEFAULT '',
    raw          jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);

-- Account moves announced by remote actors.
CREATE TABLE moves (
    id           bigserial   PRIMARY KEY,
    activity_uri text        NOT NULL UNIQUE,
    origin       text        NOT NULL,
    target       text        NOT NULL,
    verified     boolean     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
