-- Accounts: a citizen's own avatar and banner, forgotten-password tokens, and closed accounts.

-- The uploaded pictures, by their media file name (<sha256>.<extension>, see media/service.py);
-- NULL: the generated avatar, no banner. Re-encoded before they are stored.
ALTER TABLE actors
    ADD COLUMN avatar_name text CHECK (avatar_name ~ '^[0-9a-f]{64}\.(png|jpg|gif|webp)$'),
    ADD COLUMN banner_name text CHECK (banner_name ~ '^[0-9a-f]{64}\.(png|jpg|gif|webp)$'),
    -- A closed account's actor stays as a tombstone: its id answers 410 Gone, its key still
    -- signs the Delete being delivered, and its username is never given to anyone else.
    ADD COLUMN deleted_at  timestamptz;

-- One-use links sent by e-mail to set a new password. Only the token's SHA-256 is kept, so a
-- leaked table opens no account; a link works once, within its hour.
CREATE TABLE password_resets (
    id          bigserial   PRIMARY KEY,
    token_hash  bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_account ON password_resets (account_id);
CREATE INDEX password_resets_expires_at ON password_resets (expires_at);
