-- Organisations and membership: who belongs to an organisation actor, with which role, and how
-- people get in; plus the organisation's settings and its verified official identifier.

-- One row per organisation actor, made with it (older organisations get the defaults when
-- first read: see organizations.queries.select_settings).
CREATE TABLE organizations (
    actor_id           bigint      PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    -- open: a Join is accepted at once; approval: an admin decides; invitation: invited only.
    membership_mode    text        NOT NULL DEFAULT 'approval'
                       CHECK (membership_mode IN ('open', 'approval', 'invitation')),
    -- The members collection then shows its count only.
    hide_members       boolean     NOT NULL DEFAULT false,
    -- SIREN (9 digits, Luhn) or RNA (W + 9 digits), set only by an instance administrator.
    official_id_kind   text        CHECK (official_id_kind IN ('SIREN', 'RNA')),
    official_id_value  text,
    official_id_verified_at timestamptz,
    official_id_verified_by bigint REFERENCES accounts (id) ON DELETE SET NULL,
    CHECK ((official_id_kind IS NULL) = (official_id_value IS NULL)),
    CHECK ((official_id_kind IS NULL) = (official_id_verified_at IS NULL)),
    CHECK (official_id_kind IS NULL
           OR (official_id_kind = 'SIREN' AND official_id_value ~ '^[0-9]{9}$')
           OR (official_id_kind = 'RNA' AND official_id_value ~ '^W[0-9]{9}$'))
);

CREATE TABLE memberships (
    id               bigserial   PRIMARY KEY,
    organization_id  bigint      NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    -- The member's actor URI, local or remote.
    member_uri       text        NOT NULL,
    role             text        NOT NULL DEFAULT 'member'
                     CHECK (role IN ('member', 'moderator', 'admin')),
    -- Free-text roles shown beside the name (treasurer, secrétaire...).
    roles            text[]      NOT NULL DEFAULT '{}',
    state            text        NOT NULL
                     CHECK (state IN ('pending', 'invited', 'accepted', 'rejected')),
    -- The Join (requests) or Invite (invitations) activity that started it.
    activity_uri     text,
    invited_by       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (organization_id, member_uri)
);
CREATE INDEX memberships_member ON memberships (member_uri);
CREATE INDEX memberships_activity ON memberships (activity_uri) WHERE activity_uri IS NOT NULL;
