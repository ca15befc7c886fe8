-- One issue per project and fingerprint: the group that errors are counted under.
CREATE TABLE issues (
    id           BIGSERIAL PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL,
    title        TEXT NOT NULL,
    culprit      TEXT NOT NULL DEFAULT '',
    level        TEXT NOT NULL CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    status       TEXT NOT NULL DEFAULT 'unresolved' CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    first_seen   TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    event_count  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (project_id, fingerprint)
);
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen DESC, id DESC);
CREATE INDEX issues_project_status_last_seen ON issues (project_id, status, last_seen DESC);
