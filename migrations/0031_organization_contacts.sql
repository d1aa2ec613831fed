-- Organisations imported from a register (issue 13) carry where and how to reach them: a postal
-- address, a website and a public e-mail address, shown on their page.
ALTER TABLE organizations ADD COLUMN address text
    CHECK (address IS NULL OR length(address) <= 300);
ALTER TABLE organizations ADD COLUMN postal_code text
    CHECK (postal_code IS NULL OR postal_code ~ '^[0-9]{5}$');
ALTER TABLE organizations ADD COLUMN website text
    CHECK (website IS NULL OR (length(website) <= 2048 AND website ~* '^https?://'));
ALTER TABLE organizations ADD COLUMN email text
    CHECK (email IS NULL OR length(email) <= 254);
