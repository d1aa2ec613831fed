-- Personal API tokens (issue 13): a citizen's programs write through /api/v1 with
-- `Authorization: Bearer <token>`. Only the SHA-256 of the token is kept: the token is 32 random
-- bytes, so a plain hash is enough (nothing to guess), and a leaked table opens nothing.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    -- Written at most every few minutes, not on every request.
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- The settings page's list.
CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at DESC);
