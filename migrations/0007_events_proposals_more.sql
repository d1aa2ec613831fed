-- Events: the companion poll's "Peut-être" (interested, without taking a place).
-- Proposals: amendments with up/down votes, and the automatic opening of the vote.

ALTER TABLE event_participations DROP CONSTRAINT event_participations_state_check;
ALTER TABLE event_participations ADD CONSTRAINT event_participations_state_check
    CHECK (state IN ('invited', 'pending', 'accepted', 'rejected', 'left', 'interested'));

-- When set, the vote opens by itself for this many days once amendable_until has passed.
ALTER TABLE proposals ADD COLUMN auto_voting_days integer
    CHECK (auto_voting_days IS NULL OR auto_voting_days BETWEEN 1 AND 365);
-- The phase loop looks for local proposals whose current phase is over.
CREATE INDEX proposals_due ON proposals (state)
    WHERE token IS NOT NULL AND state IN ('amendable', 'voting');

CREATE TABLE proposal_amendments (
    id           bigserial   PRIMARY KEY,
    uri          text        NOT NULL UNIQUE,
    proposal_id  bigint      NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    author_uri   text        NOT NULL,
    content_html text        NOT NULL,
    state        text        NOT NULL DEFAULT 'proposed'
                             CHECK (state IN ('proposed', 'accepted', 'rejected')),
    local        boolean     NOT NULL,
    published    timestamptz NOT NULL,
    -- Who accepted or rejected it (the proposal's author or organisation), and when.
    decided_by   text,
    decided_at   timestamptz
);
CREATE INDEX proposal_amendments_proposal ON proposal_amendments (proposal_id, published);

-- One up or down vote per actor and amendment.
CREATE TABLE proposal_amendment_votes (
    amendment_id bigint      NOT NULL REFERENCES proposal_amendments (id) ON DELETE CASCADE,
    voter_uri    text        NOT NULL,
    up           boolean     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (amendment_id, voter_uri)
);
