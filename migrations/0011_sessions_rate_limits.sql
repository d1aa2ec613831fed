-- Server-side login sessions: the signed cookie carries a random token whose SHA-256 is kept
-- here, so a session can be listed and revoked (logout, password change, the settings page),
-- and a copied cookie stops working when its record is revoked. Cookies from before this
-- migration name no record, so their holders simply log in again.
CREATE TABLE sessions (
    id           bigserial   PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    -- Written at most every few minutes, not on every request.
    last_seen_at timestamptz NOT NULL,
    user_agent   text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 200),
    ip           text        NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    revoked_at   timestamptz
);

-- The settings page's list, the known-address check at login, and revoking them all.
CREATE INDEX sessions_account ON sessions (account_id, last_seen_at DESC);
-- Pruning of revoked and long-idle records.
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Fixed-window counters for rate limits shared by every web process (login, sign-up, password
-- changes; later posting). One row per key; a row whose window ended is reset on its next hit
-- and pruned by the worker.
CREATE TABLE rate_limits (
    key          text        PRIMARY KEY CHECK (length(key) <= 200),
    window_start timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    count        integer     NOT NULL CHECK (count >= 0)
);

CREATE INDEX rate_limits_expires_at ON rate_limits (expires_at);
