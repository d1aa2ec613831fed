-- Content policies on inbound activities (issue 11): their settings, what they decided, and when
-- each remote actor was first seen (for holding links from new actors).

-- One row per policy an admin has set (a policy without a row has the defaults of
-- fedicity/moderation/content.py); the workers read them for every batch, so a change applies
-- at once in every process.
CREATE TABLE content_policies (
    name       text        PRIMARY KEY,
    enabled    boolean     NOT NULL DEFAULT false,
    action     text        NOT NULL DEFAULT 'reject' CHECK (action IN ('reject', 'flag')),
    terms      text[]      NOT NULL DEFAULT '{}',
    amount     integer     CHECK (amount IS NULL OR amount > 0),
    updated_at timestamptz,
    updated_by text        NOT NULL DEFAULT ''
);

-- Every decision other than a plain acceptance. A hold waits (hold_state 'held') until an admin
-- releases or rejects it; its inbox row waits in the state 'held' meanwhile.
CREATE TABLE content_decisions (
    id            bigserial   PRIMARY KEY,
    decided_at    timestamptz NOT NULL,
    policy        text        NOT NULL,
    decision      text        NOT NULL CHECK (decision IN ('reject', 'flag', 'hold')),
    reason        text        NOT NULL,
    activity_uri  text        NOT NULL,
    activity_type text        NOT NULL DEFAULT '',
    actor_uri     text        NOT NULL,
    object_uri    text,
    excerpt       text        NOT NULL DEFAULT '',
    inbox_item_id bigint      REFERENCES inbox_items (id) ON DELETE SET NULL,
    hold_state    text        CHECK (hold_state IN ('held', 'released', 'rejected')),
    resolved_at   timestamptz,
    resolved_by   text,
    CHECK ((decision = 'hold') = (hold_state IS NOT NULL))
);
CREATE INDEX content_decisions_held ON content_decisions (id) WHERE hold_state = 'held';
CREATE INDEX content_decisions_item ON content_decisions (inbox_item_id);

-- When an actor's first activity was judged (an actor already known here counts from when its
-- document was last fetched, the earliest moment kept).
CREATE TABLE content_actors_seen (
    actor_uri     text        PRIMARY KEY,
    first_seen_at timestamptz NOT NULL
);
INSERT INTO content_actors_seen (actor_uri, first_seen_at)
    SELECT uri, fetched_at FROM remote_actors
    ON CONFLICT DO NOTHING;

ALTER TABLE inbox_items DROP CONSTRAINT inbox_items_state_check;
ALTER TABLE inbox_items ADD CONSTRAINT inbox_items_state_check
    CHECK (state IN ('pending', 'done', 'ignored', 'failed', 'held'));
