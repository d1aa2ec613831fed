-- Full-text search over actors, events, proposals and posts (fedicity/search).
--
-- Each searchable table gets a stored generated tsvector and a GIN index on it. Stored rather
-- than an expression index: ranking reads the vector of every match, and a stored one is read,
-- not parsed again from the text for each candidate; the queries name one column instead of
-- repeating an expression the index would only serve if it were copied exactly. The cost is
-- the disk the vectors take and this migration rewriting the four tables once.
--
-- Accents: the `unaccent` extension is not shipped by the embedded PostgreSQL (the pgserver
-- wheel has plpgsql and vector only), so search_fold() folds accents itself with translate().
-- It also drops a plural "s" after a, i, o or u, which the French Snowball stemmer keeps
-- ("vélos" would not find "vélo"). The same fold runs on the documents here and on the typed
-- query (fedicity/search/queries.py), so both sides always agree. Changing it means
-- regenerating the columns (ALTER TABLE ... DROP and ADD the column again).

CREATE FUNCTION search_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(
        replace(replace(
            translate(lower(t),
                      'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
                      'aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy'),
            'œ', 'oe'), 'æ', 'ae'),
        '([[:alpha:]]{2,}[aiou])s\M', '\1', 'g');

-- Names are indexed twice: stemmed (French) and as typed ('simple'), so that a name made of
-- French stop words ("Les Unes") or one the stemmer would cut is still found as written.
ALTER TABLE actors ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig,
                          search_fold(display_name || ' ' || username)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(display_name)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(summary)), 'C')
) STORED;
CREATE INDEX actors_search ON actors USING gin (search_vector)
    WHERE kind IN ('person', 'organization', 'territory') AND discoverable;

ALTER TABLE remote_actors ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig,
                          search_fold(display_name || ' ' || coalesce(username, ''))), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(display_name)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(summary_html)), 'C')
) STORED;
CREATE INDEX remote_actors_search ON remote_actors USING gin (search_vector)
    WHERE deleted_at IS NULL;

-- The text parser skips HTML tags, so stored HTML is indexed as its words.
ALTER TABLE events ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('french'::regconfig, search_fold(title)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(
           coalesce(place_name, '') || ' ' || coalesce(street, '') || ' '
           || coalesce(postal_code, '') || ' ' || coalesce(locality, ''))), 'B')
    || setweight(to_tsvector('french'::regconfig, search_fold(description_html)), 'C')
) STORED;
CREATE INDEX events_search ON events USING gin (search_vector)
    WHERE deleted_at IS NULL AND public;

ALTER TABLE proposals ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('french'::regconfig, search_fold(title)), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(content_html)), 'C')
) STORED;
CREATE INDEX proposals_search ON proposals USING gin (search_vector) WHERE state <> 'draft';

ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('french'::regconfig, search_fold(coalesce(name, ''))), 'A')
    || setweight(to_tsvector('french'::regconfig, search_fold(coalesce(summary, ''))), 'B')
    || setweight(to_tsvector('french'::regconfig, search_fold(content_html)), 'C')
) STORED;
CREATE INDEX posts_search ON posts USING gin (search_vector)
    WHERE visibility = 'public' AND deleted_at IS NULL;

-- A typed address is looked up among the rows we keep by id (unique already) or web page.
CREATE INDEX remote_actors_url ON remote_actors (url) WHERE url IS NOT NULL;
CREATE INDEX posts_url ON posts (url) WHERE url IS NOT NULL;
CREATE INDEX events_url ON events (url) WHERE url IS NOT NULL;
