-- A project's own retention (days; NULL: the server's `FAULTLINE_RETENTION_DAYS`).
ALTER TABLE projects ADD COLUMN retention_days INT CHECK (retention_days BETWEEN 1 AND 36500);

-- What retention, the storage budget and the per-issue limit removed, for the settings page.
CREATE TABLE storage_removals (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason      TEXT NOT NULL CHECK (reason IN ('retention', 'budget', 'project', 'limit', 'resolved')),
    project_id  BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    day         DATE,
    errors      BIGINT NOT NULL,
    issues      BIGINT NOT NULL DEFAULT 0,
    bytes       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX storage_removals_at ON storage_removals (at DESC);
