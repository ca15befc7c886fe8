-- The events themselves. (project_id, event_id) is unique, so a redelivered event is stored once.
CREATE TABLE errors (
    id           UUID PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    issue_id     BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    event_id     UUID NOT NULL,
    timestamp    TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    message      TEXT NOT NULL,
    stack_trace  TEXT,
    context      JSONB NOT NULL DEFAULT '{}'::jsonb,
    source       TEXT NOT NULL CHECK (source IN ('frontend', 'backend', 'api')),
    url          TEXT,
    fingerprint  TEXT NOT NULL,
    environment  TEXT,
    release      TEXT,
    platform     TEXT,
    payload      JSONB,
    UNIQUE (project_id, event_id)
);
CREATE INDEX errors_project_timestamp ON errors (project_id, timestamp DESC, id DESC);
CREATE INDEX errors_issue_timestamp ON errors (issue_id, timestamp DESC, id DESC);
CREATE INDEX errors_project_level_timestamp ON errors (project_id, level, timestamp DESC);
