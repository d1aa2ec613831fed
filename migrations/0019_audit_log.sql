-- The audit log: every admin's or moderator's action (who, what, when, why), for the instance's
-- own accountability. Rows are never updated; they outlive the accounts that made them, so the
-- actor's name is kept beside its (nullable) account id.

CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    -- The account that acted; NULL for the command line and for the instance's own jobs.
    account_id  bigint      REFERENCES accounts (id) ON DELETE SET NULL,
    -- Who acted, as shown: a username, `cli:<system user>`, or `system`.
    actor_name  text        NOT NULL CHECK (length(actor_name) BETWEEN 1 AND 200),
    -- What was done: a short code such as `domain.suspend` or `report.dismiss`.
    action      text        NOT NULL CHECK (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
    -- What it was done to: a domain, an actor or object URI, a report number...
    target      text        NOT NULL DEFAULT '' CHECK (length(target) <= 2000),
    -- Why, in the actor's words.
    reason      text        NOT NULL DEFAULT '' CHECK (length(reason) <= 5000),
    details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_newest ON audit_log (id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
