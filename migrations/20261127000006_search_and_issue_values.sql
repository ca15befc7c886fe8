-- Text search over error messages (`q`) uses a trigram index instead of reading every message.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX errors_message_trgm ON errors USING gin (message gin_trgm_ops);

-- The distinct environments, releases and sources seen per issue, kept by the worker as it stores
-- errors, so filtering issues by them does not scan the errors.
CREATE TABLE issue_values (
    issue_id  BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    key       TEXT NOT NULL CHECK (key IN ('environment', 'release', 'source')),
    value     TEXT NOT NULL,
    PRIMARY KEY (issue_id, key, value)
);

INSERT INTO issue_values (issue_id, key, value)
SELECT DISTINCT issue_id, 'environment', environment FROM errors WHERE environment IS NOT NULL
UNION
SELECT DISTINCT issue_id, 'release', release FROM errors WHERE release IS NOT NULL
UNION
SELECT DISTINCT issue_id, 'source', source FROM errors;
