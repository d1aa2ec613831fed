-- Delivery leases are short and renewed while the POST runs, so `locked_until` changes under
-- the worker that holds a row and can no longer tell whose lease it is: each claim writes a
-- token of its own, and completing, renewing or releasing a row requires that token.
ALTER TABLE deliveries ADD COLUMN lease_owner uuid;
