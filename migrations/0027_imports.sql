-- Open data in (issue 13): the sources an instance imports from (a feed it follows, a file an
-- admin applied) and, for every row an import made or changed, where it came from.
CREATE TABLE import_sources (
    id              bigserial   PRIMARY KEY,
    kind            text        NOT NULL
                                CHECK (kind IN ('ical', 'openagenda', 'organizations_csv',
                                                'commune_centres')),
    -- What readers are shown: the feed's URL, or the applied file's name.
    label           text        NOT NULL CHECK (length(label) BETWEEN 1 AND 2048),
    -- Set for a subscription (fetched again and again); NULL for a file applied by hand.
    url             text        CHECK (url IS NULL OR length(url) <= 2048),
    -- The local actor (an organisation, or a person) imported events are attributed to.
    owner_actor_id  bigint      REFERENCES actors (id) ON DELETE CASCADE,
    created_by      bigint      REFERENCES accounts (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL,
    -- A subscription's schedule and lease: the worker that fetches it holds it until
    -- locked_until, so a crash loses nothing and two workers never fetch it together.
    active          boolean     NOT NULL DEFAULT true,
    next_fetch_at   timestamptz,
    locked_until    timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    last_fetched_at timestamptz,
    last_error      text,
    -- Conditional GET: what the server said of the last body we read.
    etag            text,
    last_modified   text,
    UNIQUE NULLS NOT DISTINCT (kind, label, owner_actor_id)
);
CREATE INDEX import_sources_due ON import_sources (next_fetch_at)
    WHERE active AND url IS NOT NULL;

CREATE TABLE provenance (
    id                bigserial   PRIMARY KEY,
    source_id         bigint      REFERENCES import_sources (id) ON DELETE SET NULL,
    -- Kept when the source is removed: the row still came from there.
    source_label      text        NOT NULL,
    object_kind       text        NOT NULL
                                  CHECK (object_kind IN ('event', 'organization', 'territory')),
    -- events.id, organizations.actor_id or territories.id.
    object_id         bigint      NOT NULL,
    -- The row's identity in its source: an iCalendar UID, an OpenAgenda uid, an official
    -- identifier, an INSEE code.
    external_id       text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 1000),
    -- The line of a file (its header is line 1) or the position in a feed it was read from.
    row_number        integer,
    -- A digest of what was read: the same input applied again changes nothing.
    content_hash      text        NOT NULL,
    first_imported_at timestamptz NOT NULL,
    imported_at       timestamptz NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX provenance_object ON provenance (object_kind, object_id);
