-- Step 11: what a vote decided (resolutions), the tasks that follow (actions), and who follows a
-- room (a room is not an actor: its owner's actor accepts the Follow and delivers for it).

-- A closed proposal's result, ours (proposal_id, token) or received from another fedicity;
-- exactly one per proposal, whatever closed it and however often.
CREATE TABLE resolutions (
    id            bigserial   PRIMARY KEY,
    uri           text        NOT NULL UNIQUE,
    token         text        UNIQUE,
    proposal_id   bigint      UNIQUE REFERENCES proposals (id) ON DELETE CASCADE,
    proposal_uri  text        NOT NULL UNIQUE,
    room_id       bigint      REFERENCES rooms (id) ON DELETE SET NULL,
    room_uri      text,
    -- The room owner's actor (an organisation or a territory) that publishes it.
    attributed_to text        NOT NULL,
    title         text        NOT NULL,
    -- Pour / Contre / Abstention: adopted or not; a multiple-choice vote: NULL, and `chosen`.
    adopted       boolean,
    outcome       text        NOT NULL CHECK (outcome IN ('adopted', 'rejected', 'chosen', 'tie', 'none')),
    chosen        text,
    tally         jsonb       NOT NULL DEFAULT '{}',
    voters        integer     NOT NULL DEFAULT 0 CHECK (voters >= 0),
    content_html  text        NOT NULL DEFAULT '',
    closed_at     timestamptz NOT NULL,
    local         boolean     NOT NULL,
    raw           jsonb,
    created_at    timestamptz NOT NULL,
    CHECK (local = (proposal_id IS NOT NULL AND token IS NOT NULL))
);
CREATE INDEX resolutions_room ON resolutions (room_id) WHERE room_id IS NOT NULL;

-- A task of a room, maybe following a resolution; contributors assign themselves.
CREATE TABLE actions (
    id                 bigserial   PRIMARY KEY,
    uri                text        NOT NULL UNIQUE,
    token              text        UNIQUE,
    local              boolean     NOT NULL,
    room_id            bigint      REFERENCES rooms (id) ON DELETE CASCADE,
    room_uri           text,
    resolution_uri     text,
    attributed_to      text        NOT NULL,
    created_by         text        NOT NULL,
    title              text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description_html   text        NOT NULL DEFAULT '',
    description_source text,
    status             text        NOT NULL DEFAULT 'todo'
                                   CHECK (status IN ('todo', 'in_progress', 'done', 'abandoned')),
    starts             timestamptz,
    ends               timestamptz,
    assignees          text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(assignees) <= 100),
    published          timestamptz NOT NULL,
    updated            timestamptz,
    raw                jsonb,
    CHECK (starts IS NULL OR ends IS NULL OR ends >= starts),
    CHECK (NOT local OR (token IS NOT NULL AND room_id IS NOT NULL))
);
CREATE INDEX actions_room ON actions (room_id, id DESC) WHERE room_id IS NOT NULL;
CREATE INDEX actions_resolution ON actions (resolution_uri) WHERE resolution_uri IS NOT NULL;
CREATE INDEX actions_assignees ON actions USING gin (assignees);

-- Who follows a room: local citizens (notified) and remote actors (delivered to).
CREATE TABLE room_follows (
    room_id      bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    follower_uri text        NOT NULL,
    local        boolean     NOT NULL,
    activity_uri text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (room_id, follower_uri)
);
CREATE INDEX room_follows_follower ON room_follows (follower_uri);
CREATE UNIQUE INDEX room_follows_activity ON room_follows (activity_uri) WHERE activity_uri IS NOT NULL;

-- The notification kinds of a followed room's news, added as 0016 and 0023 do.
DO $$
DECLARE
    definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    IF position('''room_proposal''' IN definition) = 0 THEN
        ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
        EXECUTE 'ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check '
            || replace(definition, 'ARRAY[', 'ARRAY[''room_proposal''::text, '
                                   || '''room_resolution''::text, ''room_action''::text, ');
    END IF;
END
$$;
