-- Proposals (the cooperative space): a text put to a vote, federated as a Question.
-- Rooms (themed spaces) are not modelled yet: a proposal belongs to an organisation actor and/or
-- a territory.

CREATE TABLE proposals (
    id                    bigserial   PRIMARY KEY,
    uri                   text        NOT NULL UNIQUE,
    -- The URL token of a local proposal; NULL for proposals of other servers.
    token                 text        UNIQUE,
    local_actor_id        bigint      REFERENCES actors (id) ON DELETE CASCADE,
    author_uri            text        NOT NULL,
    -- The organisation it belongs to (an actor URI, local or remote), if any.
    organization_uri      text,
    -- The territory it belongs to or is located in (for residents' votes and territory pages).
    territory_id          bigint      REFERENCES territories (id),
    title                 text        NOT NULL,
    content_html          text        NOT NULL DEFAULT '',
    tags                  text[]      NOT NULL DEFAULT '{}',
    state                 text        NOT NULL DEFAULT 'draft'
                          CHECK (state IN ('draft', 'amendable', 'voting', 'closed', 'withdrawn',
                                           'archived')),
    amendable_until       timestamptz,
    voting_opens          timestamptz,
    voting_ends           timestamptz,
    options               text[]      NOT NULL
                          CHECK (cardinality(options) BETWEEN 2 AND 20),
    -- anyOf (several options per voter) instead of oneOf.
    multiple              boolean     NOT NULL DEFAULT false,
    anonymous_votes       boolean     NOT NULL DEFAULT false,
    vote_change_allowed   boolean     NOT NULL DEFAULT true,
    majority              double precision NOT NULL DEFAULT 0.5
                          CHECK (majority > 0 AND majority < 1),
    electorate            text        NOT NULL DEFAULT 'federated'
                          CHECK (electorate IN ('members', 'residents', 'federated')),
    federated_votes_count boolean     NOT NULL DEFAULT true,
    -- 'adopted' or 'rejected' (Pour/Contre/Abstention), or the winning option.
    result                text,
    official_answer       text,
    -- For remote proposals and polls: the tallies their server published, option -> count.
    remote_tallies        jsonb,
    remote_voters_count   integer,
    raw                   jsonb,
    published             timestamptz NOT NULL,
    updated               timestamptz,
    CHECK (voting_ends IS NULL OR voting_opens IS NULL OR voting_ends >= voting_opens)
);
CREATE INDEX proposals_territory ON proposals (territory_id, published DESC);
CREATE INDEX proposals_author ON proposals (author_uri, published DESC);

-- One row per voter and proposal (single choice has one option, multiple choice several: the
-- Creates GoToSocial sends one per option are aggregated here).
CREATE TABLE proposal_votes (
    id            bigserial   PRIMARY KEY,
    proposal_id   bigint      NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    voter_uri     text        NOT NULL,
    options       text[]      NOT NULL CHECK (cardinality(options) >= 1),
    -- The Create activities (and their Note ids) that carried the vote.
    activity_uris text[]      NOT NULL DEFAULT '{}',
    local         boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (proposal_id, voter_uri)
);

-- Comments with a stance, on local proposals.
CREATE TABLE proposal_comments (
    id           bigserial   PRIMARY KEY,
    proposal_id  bigint      NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    author_uri   text        NOT NULL,
    stance       text        NOT NULL CHECK (stance IN ('for', 'neutral', 'against')),
    content_html text        NOT NULL,
    published    timestamptz NOT NULL
);
CREATE INDEX proposal_comments_proposal ON proposal_comments (proposal_id, published);
