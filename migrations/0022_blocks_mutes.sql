-- Per-user controls: what a local actor blocks, mutes, blocks by domain, and whose boosts it
-- hides. These are new tables rather than more rows in `blocks` (0002): that table records Block
-- activities other servers sent us (a remote actor blocking a local one, keyed by the activity),
-- while these belong to a local owner (deleted with it), are read by every feed, thread and
-- notification query of that owner (so keyed by owner id first), and hold what the owner chose
-- (a mute's notifications, the Block we sent, which an unblock's Undo embeds).

-- The host of an absolute IRI as `activitypub.accessors.host_of` compares it (host and port,
-- lower case, no user info, no default port): what a per-user domain block is matched against.
CREATE FUNCTION uri_authority(uri text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
    AS $$
        SELECT regexp_replace(
                   regexp_replace(
                       lower(substring(uri FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)')),
                       '^.*@', ''),
                   CASE WHEN lower(uri) LIKE 'https:%' THEN ':443$' ELSE ':80$' END, '')
    $$;

CREATE TABLE user_blocks (
    id            bigserial   UNIQUE,
    owner_id      bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    -- The blocked actor's id, local or remote.
    target        text        NOT NULL CHECK (length(target) BETWEEN 1 AND 2000),
    -- The Block we sent (remote targets), which the Undo of an unblock embeds by id.
    activity_uri  text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (owner_id, target)
);
-- "Does anyone here block this actor?" (a Follow or a reply from it).
CREATE INDEX user_blocks_target ON user_blocks (target);

CREATE TABLE user_mutes (
    id             bigserial   UNIQUE,
    owner_id       bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target         text        NOT NULL CHECK (length(target) BETWEEN 1 AND 2000),
    -- Mastodon's "hide notifications from this user".
    notifications  boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (owner_id, target)
);

CREATE TABLE user_domain_blocks (
    id          bigserial   UNIQUE,
    owner_id    bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    -- As uri_authority() gives it: host[:port], lower case.
    domain      text        NOT NULL CHECK (length(domain) BETWEEN 1 AND 260),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (owner_id, domain)
);

-- Accounts whose boosts (Announces) leave the owner's feed; their own posts stay.
CREATE TABLE hidden_boosts (
    id          bigserial   UNIQUE,
    owner_id    bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target      text        NOT NULL CHECK (length(target) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (owner_id, target)
);
