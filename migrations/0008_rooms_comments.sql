-- Proposals: rooms (themed spaces of the cooperative space), federated comments with a stance,
-- and attachments (named links).

-- A room belongs to an organisation actor (its admins manage it) or to a served territory (the
-- instance's admins manage it); it is not an actor: a JSON-LD object (fc:Room) at its URL.
CREATE TABLE rooms (
    id               bigserial   PRIMARY KEY,
    token            text        NOT NULL UNIQUE,
    uri              text        NOT NULL UNIQUE,
    name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description_html text        NOT NULL DEFAULT '',
    organization_id  bigint      REFERENCES actors (id) ON DELETE CASCADE,
    territory_id     bigint      REFERENCES territories (id) ON DELETE CASCADE,
    status           text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'archived')),
    -- Only the organisation's accepted members write proposals and comments in it.
    members_only     boolean     NOT NULL DEFAULT false,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz,
    CHECK ((organization_id IS NULL) <> (territory_id IS NULL)),
    CHECK (NOT members_only OR organization_id IS NOT NULL)
);
CREATE INDEX rooms_organization ON rooms (organization_id) WHERE organization_id IS NOT NULL;
CREATE INDEX rooms_territory ON rooms (territory_id) WHERE territory_id IS NOT NULL;

-- A local proposal's room (room_id), or a remote proposal's fc:room (its id and name).
ALTER TABLE proposals ADD COLUMN room_id bigint REFERENCES rooms (id) ON DELETE SET NULL;
ALTER TABLE proposals ADD COLUMN room_uri text;
ALTER TABLE proposals ADD COLUMN room_name text;
CREATE INDEX proposals_room ON proposals (room_id, published DESC) WHERE room_id IS NOT NULL;
-- Named links: [{"href": "https://...", "name": "..."}], at most 10.
ALTER TABLE proposals ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(attachments) = 'array' AND jsonb_array_length(attachments) <= 10);

-- Comments are federated Notes in reply to the proposal: each has an id; remote ones come in.
ALTER TABLE proposal_comments ADD COLUMN uri text;
ALTER TABLE proposal_comments ADD COLUMN local boolean NOT NULL DEFAULT true;
UPDATE proposal_comments c SET uri = p.uri || '/comments/' || c.id
  FROM proposals p WHERE p.id = c.proposal_id;
ALTER TABLE proposal_comments ALTER COLUMN uri SET NOT NULL;
ALTER TABLE proposal_comments ADD CONSTRAINT proposal_comments_uri_key UNIQUE (uri);
