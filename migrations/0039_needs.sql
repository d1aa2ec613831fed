-- Needs of organisations and projects (Communecter's `Need`) and the offers to help with them.
-- Local needs have a token (their id is <owner actor id>/needs/<token>) and a local owner; a
-- remote need keeps its raw document beside the columns read from it.
CREATE TABLE needs (
    id                 bigserial   PRIMARY KEY,
    uri                text        NOT NULL UNIQUE,
    token              text        UNIQUE,
    owner_uri          text        NOT NULL,
    local_owner_id     bigint      REFERENCES actors (id),
    title              text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- Markdown source (local needs only) and the sanitised HTML shown and federated.
    description_source text,
    description_html   text        NOT NULL DEFAULT '',
    kind               text        NOT NULL
                       CHECK (kind IN ('material', 'skill', 'service', 'volunteering', 'money',
                                       'other')),
    quantity           integer     CHECK (quantity IS NULL OR quantity BETWEEN 1 AND 1000000),
    starts_on          date,
    ends_on            date        CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on),
    state              text        NOT NULL DEFAULT 'open'
                       CHECK (state IN ('open', 'fulfilled', 'closed')),
    raw                jsonb,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    CHECK ((token IS NULL) = (local_owner_id IS NULL))
);
-- An owner's needs, open ones first, newest first: its page and its needs collection.
CREATE INDEX needs_owner ON needs (owner_uri, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE need_offers (
    id           bigserial   PRIMARY KEY,
    need_id      bigint      NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    helper_uri   text        NOT NULL,
    message      text        NOT NULL DEFAULT '' CHECK (length(message) <= 2000),
    state        text        NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'accepted', 'declined', 'withdrawn')),
    -- The Offer activity (ours for a local helper, theirs for a remote one): what an Accept,
    -- a Reject or an Undo names.
    activity_uri text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- One live offer per helper per need; a declined or withdrawn one may be made again.
CREATE UNIQUE INDEX need_offers_live ON need_offers (need_id, helper_uri)
    WHERE state IN ('pending', 'accepted');
CREATE INDEX need_offers_need ON need_offers (need_id, id);
CREATE INDEX need_offers_helper ON need_offers (helper_uri);

-- The owner's admins hear of an offer; the helper hears the answer.
DO $$
DECLARE
    definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    IF position('''need_offer''' IN definition) = 0 THEN
        ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
        EXECUTE 'ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check '
            || replace(definition, 'ARRAY[',
                       'ARRAY[''need_offer''::text, ''need_offer_accepted''::text, '
                       || '''need_offer_declined''::text, ');
    END IF;
END
$$;
