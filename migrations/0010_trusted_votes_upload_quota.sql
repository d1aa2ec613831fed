-- Federated votes count only from servers a proposal's organiser or the instance admin trusts:
-- anyone can make fifteen actors on a server of their own, so a ballot from an unknown server is
-- shown beside the result, never counted in it.
ALTER TABLE proposals
    ADD COLUMN trusted_vote_domains text[] NOT NULL DEFAULT '{}';

-- The instance admin's list, trusted by every proposal of this instance (e.g. the commune
-- instances of a région).
CREATE TABLE vote_trusted_domains (
    domain     text        PRIMARY KEY CHECK (domain = lower(domain) AND domain <> ''),
    created_at timestamptz NOT NULL
);

-- The voter's host (and port), lower case, as trust is decided by it.
ALTER TABLE proposal_votes
    ADD COLUMN voter_host text GENERATED ALWAYS AS (
        substring(lower(voter_uri) from '^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#]+)')
    ) STORED;

-- Each account's uploads of the last day are summed against its daily quota.
CREATE INDEX media_uploaded_by ON media (uploaded_by, created_at);
