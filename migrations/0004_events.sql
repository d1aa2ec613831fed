-- Events (FEP-8a8e, Mobilizon's vocabulary), local and federated, and who takes part in them.

CREATE TABLE events (
    id                 bigserial   PRIMARY KEY,
    uri                text        NOT NULL UNIQUE,
    -- Local events: the token of /events/TOKEN and the organising actor (citizen or organisation).
    token              text        UNIQUE,
    local_actor_id     bigint      REFERENCES actors (id),
    organizer_uri      text        NOT NULL,
    title              text        NOT NULL,
    -- Markdown source (local events only) and the sanitised HTML shown and federated.
    description_source text,
    description_html   text        NOT NULL DEFAULT '',
    starts_at          timestamptz NOT NULL,
    -- NULL when a remote event has no endTime (Mobilizon's early payloads).
    ends_at            timestamptz,
    timezone           text        NOT NULL DEFAULT 'Europe/Paris',
    all_day            boolean     NOT NULL DEFAULT false,
    category           text,
    tags               text[]      NOT NULL DEFAULT '{}',
    image_url          text,
    place_name         text,
    street             text,
    postal_code        text,
    locality           text,
    region             text,
    country            text,
    latitude           double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude          double precision CHECK (longitude BETWEEN -180 AND 180),
    -- Set when a remote payload's latitude and longitude only made sense swapped.
    coordinates_swapped boolean    NOT NULL DEFAULT false,
    online_url         text,
    capacity           integer     CHECK (capacity IS NULL OR capacity >= 0),
    join_mode          text        NOT NULL DEFAULT 'free'
                                   CHECK (join_mode IN ('free', 'restricted', 'invite', 'external')),
    external_url       text,
    status             text        NOT NULL DEFAULT 'confirmed'
                                   CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    parent_id          bigint      REFERENCES events (id),
    parent_uri         text,
    territory_id       bigint      REFERENCES territories (id),
    url                text,
    public             boolean     NOT NULL DEFAULT true,
    -- What a remote server says its participant count is (ours is counted from participations).
    remote_participant_count integer,
    raw                jsonb,
    published          timestamptz NOT NULL,
    updated            timestamptz,
    deleted_at         timestamptz,
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    CHECK ((token IS NULL) = (local_actor_id IS NULL))
);
CREATE INDEX events_starts_at ON events (starts_at) WHERE deleted_at IS NULL;
CREATE INDEX events_organizer ON events (organizer_uri, starts_at);
CREATE INDEX events_territory ON events (territory_id, starts_at);
CREATE INDEX events_parent ON events (parent_id);

-- One row per actor and event. 'invited' is set by the organiser of an invite-only event;
-- the actor's Join then turns it into 'accepted'.
CREATE TABLE event_participations (
    id         bigserial   PRIMARY KEY,
    event_id   bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    actor_uri  text        NOT NULL,
    state      text        NOT NULL
                           CHECK (state IN ('invited', 'pending', 'accepted', 'rejected', 'left')),
    join_uri   text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (event_id, actor_uri)
);
CREATE INDEX event_participations_actor ON event_participations (actor_uri);
