-- Points of interest (Communecter's POI): a compost point, a shared library, an artwork... with
-- a point on the map, an address and up to four photos, located in a served territory (its
-- commune) like events, so the scope queries, the map and the GeoJSON files see them through
-- located_items (kind 'place'). Remote ones are kept with their raw document.
CREATE TABLE points_of_interest (
    id                 bigserial   PRIMARY KEY,
    -- Ours only: the last segment of the place's id and page.
    token              text        UNIQUE,
    uri                text        NOT NULL UNIQUE,
    url                text,
    kind               text        NOT NULL CHECK (kind IN ('compost_point', 'shared_library',
                                   'artwork', 'recycling_centre', 'heritage', 'parking', 'other')),
    name               text        NOT NULL,
    -- The typed Markdown (ours), and the sanitised HTML shown and published.
    description_source text,
    description_html   text        NOT NULL DEFAULT '',
    latitude           double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude          double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    street             text        NOT NULL DEFAULT '',
    postal_code        text        NOT NULL DEFAULT '',
    locality           text        NOT NULL DEFAULT '',
    territory_id       bigint      NOT NULL REFERENCES territories (id),
    -- Up to four images: [{"url", "mediaType", "width", "height"}].
    photos             jsonb       NOT NULL DEFAULT '[]',
    author_uri         text        NOT NULL,
    local_actor_id     bigint      REFERENCES actors (id),
    local              boolean     NOT NULL,
    -- The territory actor that announced a remote one to us.
    via                text,
    raw                jsonb,
    published          timestamptz NOT NULL,
    updated            timestamptz,
    deleted_at         timestamptz
);
CREATE INDEX points_of_interest_territory
    ON points_of_interest (territory_id, kind, published DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX points_of_interest_author ON points_of_interest (author_uri);
