-- Inbox rows given up after their last attempt, counted by the admin dashboard and
-- `fedicity queue stats`: few, but found only by reading every processed row without this.
CREATE INDEX inbox_items_failed ON inbox_items (id) WHERE state = 'failed';
-- Rows a content policy holds count, per signing server, against its cap of waiting rows.
CREATE INDEX inbox_items_held_origin ON inbox_items (origin_host) WHERE state = 'held';
