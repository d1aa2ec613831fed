-- Where an organisation can be found (its premises), for the map: set by its admins with the
-- place picker. Both or neither.

ALTER TABLE organizations ADD COLUMN latitude double precision
    CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE organizations ADD COLUMN longitude double precision
    CHECK (longitude BETWEEN -180 AND 180);
ALTER TABLE organizations ADD CONSTRAINT organizations_place_check
    CHECK ((latitude IS NULL) = (longitude IS NULL));
CREATE INDEX organizations_place ON organizations (actor_id) WHERE latitude IS NOT NULL;
