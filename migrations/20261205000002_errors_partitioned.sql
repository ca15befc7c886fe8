-- Errors are stored in one partition per UTC day of their timestamp, so that retention and the
-- storage budget remove old errors by dropping whole days (which gives the disk space back at
-- once) instead of deleting rows. An existing installation's errors are copied into their days
-- here, in one transaction (see the README for how long that takes per million errors).

ALTER TABLE errors RENAME TO errors_unpartitioned;
ALTER INDEX errors_pkey RENAME TO errors_unpartitioned_pkey;
ALTER INDEX errors_project_id_event_id_key RENAME TO errors_unpartitioned_project_id_event_id_key;
ALTER INDEX errors_project_timestamp RENAME TO errors_unpartitioned_project_timestamp;
ALTER INDEX errors_issue_timestamp RENAME TO errors_unpartitioned_issue_timestamp;
ALTER INDEX errors_project_level_timestamp RENAME TO errors_unpartitioned_project_level_timestamp;
ALTER INDEX errors_message_trgm RENAME TO errors_unpartitioned_message_trgm;

-- The partition key must be part of every unique key: an event is the same event when its id and
-- timestamp are (a redelivered queue entry has both; an SDK's retry sends the same timestamp).
CREATE TABLE errors (
    id           UUID NOT NULL,
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
    detail       BYTEA,
    PRIMARY KEY (id, timestamp),
    UNIQUE (project_id, event_id, timestamp)
) PARTITION BY RANGE (timestamp);
CREATE INDEX errors_project_timestamp ON errors (project_id, timestamp DESC, id DESC);
CREATE INDEX errors_issue_timestamp ON errors (issue_id, timestamp DESC, id DESC);
CREATE INDEX errors_project_level_timestamp ON errors (project_id, level, timestamp DESC);
CREATE INDEX errors_message_trgm ON errors USING gin (message gin_trgm_ops);

-- Creates the partition of `day` unless it exists; answers whether it created it. Safe to call
-- from several servers at once.
CREATE FUNCTION faultline_errors_partition(day DATE) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    name TEXT := 'errors_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relname = name AND n.nspname = current_schema()) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF errors FOR VALUES FROM (%L) TO (%L)', name,
                   day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    -- What the worker has compressed already is not compressed again; the rest is lz4 where
    -- PostgreSQL has it.
    EXECUTE format('ALTER TABLE %I ALTER COLUMN detail SET STORAGE EXTERNAL', name);
    BEGIN
        EXECUTE format('ALTER TABLE %I ALTER COLUMN payload SET COMPRESSION lz4, '
                       'ALTER COLUMN context SET COMPRESSION lz4, ALTER COLUMN stack_trace SET COMPRESSION lz4', name);
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    RETURN true;
EXCEPTION WHEN duplicate_table OR unique_violation THEN
    RETURN false;
END
$$;

SELECT faultline_errors_partition(d)
FROM (SELECT DISTINCT (timestamp AT TIME ZONE 'UTC')::date AS d FROM errors_unpartitioned
      UNION SELECT (now() AT TIME ZONE 'UTC')::date
      UNION SELECT (now() AT TIME ZONE 'UTC')::date + 1) AS days;

INSERT INTO errors SELECT id, project_id, issue_id, event_id, timestamp, received_at, level, message, stack_trace,
                          context, source, url, fingerprint, environment, release, platform, payload, detail
FROM errors_unpartitioned;
DROP TABLE errors_unpartitioned;
