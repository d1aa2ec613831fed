-- Local actors (citizens, organisations, the instance actor) and the accounts that log in as them.

CREATE TABLE actors (
    id                          bigserial   PRIMARY KEY,
    username                    text        NOT NULL,
    kind                        text        NOT NULL
                                CHECK (kind IN ('person', 'organization', 'application')),
    organization_kind           text
                                CHECK (organization_kind IN
                                       ('association', 'company', 'local_government',
                                        'collective', 'informal_group')),
    display_name                text        NOT NULL DEFAULT '',
    summary                     text        NOT NULL DEFAULT '',
    manually_approves_followers boolean     NOT NULL DEFAULT false,
    discoverable                boolean     NOT NULL DEFAULT true,
    public_key_pem              text        NOT NULL,
    private_key_pem             text        NOT NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'organization') = (organization_kind IS NOT NULL))
);

-- Usernames are unique across all local actors whatever their case.
CREATE UNIQUE INDEX actors_username_lower ON actors (lower(username));
CREATE INDEX actors_created_at ON actors (created_at DESC, id DESC);
-- At most one instance actor.
CREATE UNIQUE INDEX actors_one_application ON actors (kind) WHERE kind = 'application';

CREATE TABLE accounts (
    id              bigserial   PRIMARY KEY,
    actor_id        bigint      NOT NULL UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    email           text,
    password_hash   text        NOT NULL,
    is_admin        boolean     NOT NULL DEFAULT false,
    locale          text        CHECK (locale IN ('fr', 'en')),
    -- Bumped when the password changes, so older session cookies stop working.
    session_epoch   integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);

CREATE UNIQUE INDEX accounts_email_lower ON accounts (lower(email)) WHERE email IS NOT NULL;

-- Settings the admin changes at run time (one row).
CREATE TABLE instance_config (
    singleton         boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    registration_open boolean,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO instance_config (singleton) VALUES (true);
