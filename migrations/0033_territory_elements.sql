-- Step 11's shared ground, so the packages that build on it (projects, places, listings,
-- co-moderation) each add only their own tables in migrations of their own.

-- A project is an organisation-shaped actor (organization_kind 'project'): it reuses the
-- organisations' memberships (contributors), invitations, wall, agenda and rooms; what only a
-- project has lives in the projects table (its own migration).
ALTER TABLE actors DROP CONSTRAINT actors_organization_kind_check;
ALTER TABLE actors ADD CONSTRAINT actors_organization_kind_check
    CHECK (organization_kind IN ('association', 'company', 'local_government', 'collective',
                                 'informal_group', 'project'));

-- Located items gain points of interest ('place'), needs and offers ('listing') and projects:
-- the scope and radius queries, the map and the GeoJSON files read them all from here.
ALTER TABLE located_items DROP CONSTRAINT located_items_kind_check;
ALTER TABLE located_items ADD CONSTRAINT located_items_kind_check
    CHECK (kind IN ('post', 'event', 'proposal', 'place', 'listing', 'project'));

-- What a citizen may report from the UI grows with them.
ALTER TABLE reports DROP CONSTRAINT reports_target_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_target_kind_check
    CHECK (target_kind IN ('post', 'event', 'proposal', 'comment', 'actor', 'place', 'listing',
                           'project', 'action'));
