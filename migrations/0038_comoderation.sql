-- Co-moderation (stewardship/comoderation.py): a public object located in a territory that
-- gathers FEDICITY_COMODERATION_REPORTS open reports from as many distinct local accounts opens
-- a vote among the territory's residents (or the organisation's members, for its wall); the
-- vote is a proposal, and this row follows it from its opening to what was done.
CREATE TABLE comoderation_votes (
    id               bigserial   PRIMARY KEY,
    -- Once per object: a vetoed or rejected vote is not opened again by further reports.
    object_uri       text        NOT NULL UNIQUE,
    object_kind      text        NOT NULL,
    territory_id     bigint      REFERENCES territories (id) ON DELETE SET NULL,
    organization_id  bigint      REFERENCES actors (id) ON DELETE SET NULL,
    proposal_id      bigint      NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    state            text        NOT NULL DEFAULT 'open'
                                 CHECK (state IN ('open', 'adopted', 'rejected', 'vetoed')),
    -- The reports that opened it (they stay open until the vote is settled).
    report_ids       bigint[]    NOT NULL,
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,
    -- The Announces of our territory actors undone on adoption (a veto announces it again).
    undone_announces text[]      NOT NULL DEFAULT '{}',
    vetoed_by        text,
    vetoed_at        timestamptz
);

-- The worker's step: open votes whose proposal has closed.
CREATE INDEX comoderation_votes_open ON comoderation_votes (proposal_id) WHERE state = 'open';

-- The Question of a co-moderation vote names the object it is about (fc:moderationOf).
ALTER TABLE proposals ADD COLUMN moderation_of text;

-- The territories' Announces of one object, found by the object the shared activity carries.
CREATE INDEX outbox_activities_announced ON outbox_activities
    ((coalesce(raw -> 'object' -> 'object' ->> 'id', raw -> 'object' ->> 'object')))
    WHERE type = 'Announce';

-- The notification kind 'comoderation_opened' (a report one made opened a vote), added to
-- whatever the constraint holds now, as 0023 does.
DO $$
DECLARE
    definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    IF position('''comoderation_opened''' IN definition) = 0 THEN
        ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
        EXECUTE 'ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check '
            || replace(definition, 'ARRAY[', 'ARRAY[''comoderation_opened''::text, ');
    END IF;
END
$$;
