-- Counts of the stored errors per hour, kept by the worker in its batch transaction (and by every
-- delete), so totals, charts and filters never scan the errors. Hours are UTC hours of the
-- errors' timestamps; an error without an environment or a release counts under ''.

-- Per issue: the issue page's charts, the issue list's trends and its filters on several values.
CREATE TABLE issue_counts (
    issue_id     BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    hour         TIMESTAMPTZ NOT NULL,
    level        TEXT NOT NULL,
    source       TEXT NOT NULL,
    environment  TEXT NOT NULL,
    release      TEXT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (issue_id, hour, level, source, environment, release)
);
CREATE INDEX issue_counts_hour ON issue_counts (hour);

-- Per project, with the status of the errors' issues: the totals behind `/api/stats` and the
-- dashboard's cards. An issue changing status moves its counts (trigger below).
CREATE TABLE project_counts (
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hour         TIMESTAMPTZ NOT NULL,
    level        TEXT NOT NULL,
    source       TEXT NOT NULL,
    environment  TEXT NOT NULL,
    release      TEXT NOT NULL,
    status       TEXT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (project_id, hour, level, source, environment, release, status)
);
CREATE INDEX project_counts_hour ON project_counts (hour);

-- Moves the counts of an issue whose status changed from its old status to its new one, in key
-- order. A row trigger with a condition: updates that leave the status alone (every batch's
-- count update) cost nothing.
CREATE FUNCTION faultline_move_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_counts AS p (project_id, hour, level, source, environment, release, status, count)
    SELECT NEW.project_id, c.hour, c.level, c.source, c.environment, c.release, s.status, sum(s.sign * c.count)
    FROM issue_counts c
    CROSS JOIN (VALUES (OLD.status, -1), (NEW.status, 1)) AS s (status, sign)
    WHERE c.issue_id = NEW.id
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (project_id, hour, level, source, environment, release, status)
    DO UPDATE SET count = p.count + EXCLUDED.count;
    RETURN NULL;
END
$$;

CREATE TRIGGER issues_move_counts AFTER UPDATE OF status ON issues
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION faultline_move_counts();

-- Recounts one project's rollups from its stored errors (this migration, the bench's seeding, and
-- a repair after restoring a partial backup).
CREATE FUNCTION faultline_recount(project BIGINT) RETURNS void LANGUAGE sql AS $$
    DELETE FROM issue_counts WHERE issue_id IN (SELECT id FROM issues WHERE project_id = project);
    DELETE FROM project_counts WHERE project_id = project;
    INSERT INTO issue_counts (issue_id, hour, level, source, environment, release, count)
    SELECT issue_id, date_trunc('hour', timestamp, 'UTC'), level, source,
           COALESCE(environment, ''), COALESCE(release, ''), count(*)
    FROM errors WHERE project_id = project
    GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO project_counts (project_id, hour, level, source, environment, release, status, count)
    SELECT project, c.hour, c.level, c.source, c.environment, c.release, i.status, sum(c.count)
    FROM issue_counts c JOIN issues i ON i.id = c.issue_id
    WHERE i.project_id = project
    GROUP BY 2, 3, 4, 5, 6, 7;
$$;

SELECT faultline_recount(id) FROM projects;
