-- Needs and offers (Communecter's "ressources"), jobs and classifieds: listings with a section,
-- a category, an optional price and an expiry, located in a served territory. Local ones have a
-- token (their page); remote ones keep their raw document. Each live listing is also a located
-- item of kind 'listing' (scope queries, the map), taken out of it when it expires.
CREATE TABLE listings (
    id                 bigserial   PRIMARY KEY,
    token              text        UNIQUE,
    uri                text        NOT NULL UNIQUE,
    url                text,
    kind               text        NOT NULL CHECK (kind IN ('classified', 'ressource', 'job')),
    section            text        NOT NULL
                                   CHECK (section IN ('for_sale', 'for_rent', 'need', 'offer')),
    category           text        NOT NULL,
    title              text        NOT NULL,
    description_source text,
    description_html   text        NOT NULL DEFAULT '',
    -- A bounded decimal: free is 0, no price is NULL.
    price              numeric(12, 2) CHECK (price IS NULL OR (price >= 0 AND price <= 1000000000)),
    currency           text        CHECK (currency IN ('EUR', 'G1', 'GBP', 'USD', 'CHF', 'XPF')),
    expires_at         timestamptz NOT NULL,
    territory_id       bigint      NOT NULL REFERENCES territories (id),
    latitude           double precision,
    longitude          double precision,
    author_uri         text        NOT NULL,
    -- The local author (a person, or the organisation it was posted as) and the person who
    -- posted it; both NULL for a remote listing.
    local_actor_id     bigint      REFERENCES actors (id),
    posted_by          bigint      REFERENCES actors (id),
    raw                jsonb,
    published          timestamptz NOT NULL,
    updated            timestamptz,
    deleted_at         timestamptz,
    -- When housekeeping took it out of the located items once expired (renewing clears it).
    unlocated_at       timestamptz,
    CHECK ((kind = 'classified') = (section IN ('for_sale', 'for_rent')))
);
-- The lists: live listings newest first, by territory.
CREATE INDEX listings_live ON listings (published DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX listings_territory ON listings (territory_id) WHERE deleted_at IS NULL;
-- Housekeeping finds the newly expired ones (those it took out leave the index).
CREATE INDEX listings_expiry ON listings (expires_at)
    WHERE deleted_at IS NULL AND unlocated_at IS NULL;
CREATE INDEX listings_local_actor ON listings (local_actor_id) WHERE local_actor_id IS NOT NULL;
-- An author's listings, when the account is closed or the remote actor deleted.
CREATE INDEX listings_author ON listings (author_uri) WHERE deleted_at IS NULL;
-- The list's free text: words of the title and description, accents and plurals folded as the
-- search does (0015), on a GIN index (a substring scan took 0.5 s over 50,000 listings).
ALTER TABLE listings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('french'::regconfig, search_fold(title)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(description_html)), 'B')
) STORED;
CREATE INDEX listings_search ON listings USING gin (search_vector) WHERE deleted_at IS NULL;
