-- Open data out (issue 13): an event's iCalendar SEQUENCE (RFC 5545 3.8.7.4). Calendar apps
-- that subscribed to an agenda replace their copy of an event only when its SEQUENCE grows, so
-- it counts the changes of what we publish of the event (local edits, cancellation, a remote
-- Update that changes it); events/queries.py:upsert_event increments it.
ALTER TABLE events ADD COLUMN sequence integer NOT NULL DEFAULT 0 CHECK (sequence >= 0);
-- A hashtag's agenda (urls.tag_agenda) finds its events by containment, not by a scan.
CREATE INDEX events_tags ON events USING gin (tags) WHERE deleted_at IS NULL AND public;
