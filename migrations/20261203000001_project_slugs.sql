-- Each project gets a slug: the short name in dashboard URLs (`/?project=backend`) and in the REST
-- API. It is made from the name once and kept when the project is renamed, so links stay valid.
ALTER TABLE projects ADD COLUMN slug TEXT;

UPDATE projects
SET slug = coalesce(nullif(trim(BOTH '-' FROM left(trim(BOTH '-' FROM regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), 60)), ''), 'project');

-- Names that make the same slug: all but the oldest get their id appended.
UPDATE projects p SET slug = p.slug || '-' || p.id
WHERE EXISTS (SELECT 1 FROM projects o WHERE o.slug = p.slug AND o.id < p.id);

ALTER TABLE projects
    ALTER COLUMN slug SET NOT NULL,
    ADD CONSTRAINT projects_slug_key UNIQUE (slug),
    ADD CONSTRAINT projects_slug_shape CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$');
