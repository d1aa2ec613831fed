-- Reports and moderation: reports made here by citizens beside the Flags other servers send, what
-- was decided about each, accounts silenced or suspended, and territory moderators.

-- A report is `remote` (a Flag another server sent) or `local` (a citizen of ours, through the
-- form). `resolved_at IS NULL` keeps meaning "open" for every report, whatever its origin.
ALTER TABLE reports
    ADD COLUMN origin              text   NOT NULL DEFAULT 'remote'
                                          CHECK (origin IN ('remote', 'local')),
    ADD COLUMN reporter_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    -- Mastodon's categories, so a forwarded report reads the same there.
    ADD COLUMN category            text   NOT NULL DEFAULT 'other'
                                          CHECK (category IN ('spam', 'legal', 'violation', 'other')),
    -- The account the report is about (the owner of the reported objects), when known.
    ADD COLUMN target_actor        text,
    -- What kind of thing was reported from the UI: post, event, proposal, comment or actor.
    ADD COLUMN target_kind         text
                                   CHECK (target_kind IN ('post', 'event', 'proposal', 'comment', 'actor')),
    -- When a copy went to the reported account's server as a Flag from the instance actor.
    ADD COLUMN forwarded_at        timestamptz,
    -- Where the reported content lives here, for the moderators of that organisation or
    -- territory (NULL: only the instance's admins see it).
    ADD COLUMN organization_id     bigint REFERENCES actors (id) ON DELETE SET NULL,
    ADD COLUMN territory_id        bigint REFERENCES territories (id) ON DELETE SET NULL,
    -- Who closed it (as the audit log names them) and how; the reporter is told the outcome.
    ADD COLUMN resolved_by         text,
    ADD COLUMN resolution          text
                                   CHECK (resolution IN ('dismissed', 'content_removed',
                                                         'content_hidden', 'account_silenced',
                                                         'account_suspended', 'domain_suspended'));
-- Nothing closed a report before this migration; should a row say otherwise, it was looked at.
UPDATE reports SET resolution = 'dismissed' WHERE resolved_at IS NOT NULL AND resolution IS NULL;
ALTER TABLE reports ADD CONSTRAINT reports_resolution_whole
    CHECK ((resolved_at IS NULL) = (resolution IS NULL));
CREATE INDEX reports_open ON reports (id DESC) WHERE resolved_at IS NULL;
CREATE INDEX reports_reporter_account ON reports (reporter_account_id, id DESC);
CREATE INDEX reports_organization ON reports (organization_id, id DESC)
    WHERE organization_id IS NOT NULL;
CREATE INDEX reports_territory ON reports (territory_id, id DESC) WHERE territory_id IS NOT NULL;

-- Accounts the admins silenced (kept out of public and territory pages and of the territories'
-- Announces; followers still see them) or suspended (a local one cannot log in and its actor
-- answers 410; a remote one's activities are refused at the inbox). Local or remote, by actor
-- id; `local_actor_id` is set for ours. Lifting a restriction deletes its row.
CREATE TABLE actor_restrictions (
    id             bigserial   PRIMARY KEY,
    actor_uri      text        NOT NULL UNIQUE,
    local_actor_id bigint      UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    level          text        NOT NULL CHECK (level IN ('silence', 'suspend')),
    reason         text        NOT NULL DEFAULT '' CHECK (length(reason) <= 5000),
    created_at     timestamptz NOT NULL
);

-- Territory moderators, named by the instance's admins: they act on reports about content
-- located in their territory (or below it), and may take it off the territory's pages.
CREATE TABLE territory_moderators (
    territory_id bigint      NOT NULL REFERENCES territories (id) ON DELETE CASCADE,
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (territory_id, account_id)
);
CREATE INDEX territory_moderators_account ON territory_moderators (account_id);

-- The notification kind 'report_resolved' (a report one made was handled), added to whatever the
-- constraint holds now, as 0016 does.
DO $$
DECLARE
    definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    IF position('''report_resolved''' IN definition) = 0 THEN
        ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
        EXECUTE 'ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check '
            || replace(definition, 'ARRAY[', 'ARRAY[''report_resolved''::text, ');
    END IF;
END
$$;
