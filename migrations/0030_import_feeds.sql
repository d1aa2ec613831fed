-- Followed calendar feeds (issue 13): a feed added as "auto" learns its format from its first
-- answer, and each fetch leaves what it did (counts, rows skipped with their reasons) for the
-- admins' page.
ALTER TABLE import_sources
    ADD COLUMN detect_format boolean NOT NULL DEFAULT false,
    ADD COLUMN last_report   jsonb;
