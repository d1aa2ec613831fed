-- Territories: the French administrative tree (country, régions, départements, EPCIs, communes,
-- quartiers), the closure of its ancestry, the territory actors, and everything located in them.

CREATE TABLE territories (
    id           bigserial   PRIMARY KEY,
    level        text        NOT NULL
                             CHECK (level IN ('country', 'region', 'departement', 'epci',
                                              'commune', 'quartier')),
    -- COG code for régions, départements and communes; SIREN for EPCIs; ISO code for the country;
    -- for quartiers, the commune code, a dash and a slug (admin-made) or the official COG code.
    code         text        NOT NULL,
    name         text        NOT NULL,
    -- The official subtype: CC/CA/CU/METRO for EPCIs; commune-deleguee, commune-associee,
    -- arrondissement-municipal or quartier for quartiers.
    kind         text,
    parent_id    bigint      REFERENCES territories (id),
    postal_codes text[]      NOT NULL DEFAULT '{}',
    population   integer,
    zone         text,
    latitude     double precision,
    longitude    double precision,
    -- min longitude, min latitude, max longitude, max latitude
    bbox         double precision[],
    geometry     jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (level, code)
);
CREATE INDEX territories_parent ON territories (parent_id);
CREATE INDEX territories_name ON territories (lower(name) text_pattern_ops);
CREATE INDEX territories_postal_codes ON territories USING gin (postal_codes);

-- Every (ancestor, descendant) pair, depth 0 for a territory itself: "X or below" is one join.
-- A commune's ancestors are its EPCI, département, région and country; an EPCI that spans
-- départements has them all.
CREATE TABLE territory_ancestors (
    ancestor_id   bigint   NOT NULL REFERENCES territories (id) ON DELETE CASCADE,
    descendant_id bigint   NOT NULL REFERENCES territories (id) ON DELETE CASCADE,
    depth         smallint NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX territory_ancestors_descendant ON territory_ancestors (descendant_id, depth);

-- Territory actors are local actors (Group) whose keys are made the first time they are needed:
-- a région serves thousands of communes, and RSA keys cost tens of milliseconds each.
ALTER TABLE actors DROP CONSTRAINT actors_kind_check;
ALTER TABLE actors ADD CONSTRAINT actors_kind_check
    CHECK (kind IN ('person', 'organization', 'application', 'territory'));
ALTER TABLE actors ADD COLUMN territory_id bigint UNIQUE REFERENCES territories (id);
ALTER TABLE actors ADD CONSTRAINT actors_territory_check
    CHECK ((kind = 'territory') = (territory_id IS NOT NULL));
ALTER TABLE actors ALTER COLUMN public_key_pem DROP NOT NULL;
ALTER TABLE actors ALTER COLUMN private_key_pem DROP NOT NULL;
ALTER TABLE actors ADD CONSTRAINT actors_keys_check
    CHECK (kind = 'territory' OR (public_key_pem IS NOT NULL AND private_key_pem IS NOT NULL));
-- Communexion: the territory a citizen or organisation calls home.
ALTER TABLE actors ADD COLUMN home_territory_id bigint REFERENCES territories (id);

-- Everything located in a territory, local or federated: posts, events, proposals.
CREATE TABLE located_items (
    id           bigserial   PRIMARY KEY,
    object_uri   text        NOT NULL UNIQUE,
    kind         text        NOT NULL CHECK (kind IN ('post', 'event', 'proposal')),
    territory_id bigint      NOT NULL REFERENCES territories (id),
    -- The territory and all its ancestors, so "in X or below" is an indexed containment test.
    scope_ids    bigint[]    NOT NULL,
    latitude     double precision,
    longitude    double precision,
    title        text        NOT NULL DEFAULT '',
    summary      text        NOT NULL DEFAULT '',
    url          text,
    author_uri   text        NOT NULL,
    origin_host  text        NOT NULL,
    -- The territory actor that announced it to us, for federated items.
    via          text,
    published    timestamptz NOT NULL,
    starts_at    timestamptz,
    deleted_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX located_items_scope ON located_items USING gin (scope_ids);
CREATE INDEX located_items_published ON located_items (published DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX located_items_territory ON located_items (territory_id, published DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX located_items_position ON located_items (latitude, longitude)
    WHERE deleted_at IS NULL AND latitude IS NOT NULL;
