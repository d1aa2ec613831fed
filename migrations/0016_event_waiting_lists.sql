-- Events: a waiting list the organiser may allow, participants the organiser removed, and the
-- notification of a place that opened up.

-- When set, a Join of the full event waits in line instead of being refused; the first in line
-- takes the next place that opens (someone leaves or is removed, the capacity is raised).
ALTER TABLE events ADD COLUMN waiting_list boolean NOT NULL DEFAULT false;

-- 'waiting': in line for a place; 'removed': taken off the list by the organiser (a new Join of
-- theirs is refused).
ALTER TABLE event_participations DROP CONSTRAINT event_participations_state_check;
ALTER TABLE event_participations ADD CONSTRAINT event_participations_state_check
    CHECK (state IN ('invited', 'pending', 'accepted', 'rejected', 'left', 'interested',
                     'waiting', 'removed'));
-- The place in line: drawn from one sequence when a participation starts waiting, kept while it
-- waits, cleared when it stops. Lower is sooner; a single number makes the list's keyset.
CREATE SEQUENCE event_waiting_rank;
ALTER TABLE event_participations ADD COLUMN waiting_rank bigint
    CHECK ((waiting_rank IS NOT NULL) = (state = 'waiting'));
CREATE INDEX event_participations_waiting ON event_participations (event_id, waiting_rank)
    WHERE state = 'waiting';
-- The organiser's lists of who comes and who asks, by state, oldest first (keyset on id).
CREATE INDEX event_participations_event_state ON event_participations (event_id, state, id);

-- The notification kind 'waiting_list_promoted'. The list of kinds is extended from what the
-- constraint holds now rather than written out again, so that kinds other migrations add before
-- or after this one are kept whatever order they are applied in.
DO $$
DECLARE
    definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    IF position('''waiting_list_promoted''' IN definition) = 0 THEN
        ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
        EXECUTE 'ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check '
            || replace(definition, 'ARRAY[', 'ARRAY[''waiting_list_promoted''::text, ');
    END IF;
END
$$;
