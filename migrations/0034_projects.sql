-- Projects (Communecter's fourth kind of element). A project is an organisation-shaped actor
-- (actors.organization_kind = 'project', migration 0033): its contributors, join rules, wall,
-- agenda and rooms are the organisations' own; this table holds what only a project has.
CREATE TABLE projects (
    actor_id               bigint      PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    -- Who answers for it: a person or an organisation, by actor id (URI).
    owner_uri              text        NOT NULL,
    maturity               text        NOT NULL DEFAULT 'idea'
                           CHECK (maturity IN ('idea', 'concept', 'started', 'development',
                                               'testing', 'mature')),
    starts_on              date,
    ends_on                date,
    license                text        NOT NULL DEFAULT '' CHECK (length(license) <= 500),
    parent_organization_id bigint      REFERENCES actors (id) ON DELETE SET NULL,
    -- Sub-projects: the service refuses cycles before they reach this column.
    parent_project_id      bigint      REFERENCES projects (actor_id) ON DELETE SET NULL,
    territory_id           bigint      REFERENCES territories (id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on),
    CHECK (parent_project_id IS DISTINCT FROM actor_id)
);
CREATE INDEX projects_parent_project ON projects (parent_project_id)
    WHERE parent_project_id IS NOT NULL;
CREATE INDEX projects_parent_organization ON projects (parent_organization_id)
    WHERE parent_organization_id IS NOT NULL;
-- No index on maturity or territory: the list reads newest first and stops at a page, and
-- bench/projects.py measured no gain from them (1.18x and 1.26x the time without them).

-- The organisations' lists leave projects out (organizations/queries.py, exports): this index
-- holds organisations only, so many projects do not slow them (0.29x and 0.40x the time
-- with 50,000 projects in two runs of bench/projects.py).
CREATE INDEX actors_organizations_only ON actors (id DESC)
    WHERE kind = 'organization' AND organization_kind IS DISTINCT FROM 'project';
