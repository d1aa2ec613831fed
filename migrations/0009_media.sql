-- Uploaded media (event images): one row per distinct file, content-addressed by its SHA-256.
-- The bytes live on disk under <data_dir>/media/<sha256[:2]>/<sha256>.<extension>, not here.
CREATE TABLE media (
    sha256      text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    extension   text        NOT NULL CHECK (extension IN ('png', 'jpg', 'gif', 'webp')),
    media_type  text        NOT NULL,
    width       integer     NOT NULL CHECK (width > 0),
    height      integer     NOT NULL CHECK (height > 0),
    size        integer     NOT NULL CHECK (size > 0),
    -- The first uploader (the same file uploaded again keeps the first row).
    uploaded_by bigint      REFERENCES actors (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL
);

-- An event's image as federated: its type and size when known (our uploads; null for an
-- address typed in the form or a remote event's image).
ALTER TABLE events
    ADD COLUMN image_media_type text,
    ADD COLUMN image_width      integer CHECK (image_width > 0),
    ADD COLUMN image_height     integer CHECK (image_height > 0);
