-- Short inbox leases (issue 12, recovery): a worker renews its rows' `locked_until` every few
-- seconds while it works on them, so `locked_until` can no longer tell whose lease a row is
-- under. Each claim writes a fresh token; renewing, releasing and recording an outcome match it,
-- so a worker whose lease ran out (and whose row another worker claimed) records nothing.
ALTER TABLE inbox_items ADD COLUMN lease_token uuid;
