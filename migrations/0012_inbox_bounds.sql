-- Bounded inbox storage (security review, step 5, item 7).
-- The host that signed each stored activity (the key's host, the relayer for a forwarded one),
-- so the rows one remote domain has waiting can be counted and capped; NULL for local activities.
ALTER TABLE inbox_items ADD COLUMN origin_host text;
UPDATE inbox_items
   SET origin_host = lower(substring(key_id from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'))
 WHERE state = 'pending' AND key_id <> 'local';
CREATE INDEX inbox_items_pending_origin ON inbox_items (origin_host) WHERE state = 'pending';
-- Processed rows are purged after the retention period, oldest first.
CREATE INDEX inbox_items_processed ON inbox_items (processed_at) WHERE state <> 'pending';
