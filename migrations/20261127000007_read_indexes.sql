-- Filtering issues by an environment, release or source looks the value up first, then its issues.
CREATE INDEX issue_values_lookup ON issue_values (key, value, issue_id);
-- Text search over issues' titles and culprits, like the errors' messages, through trigrams.
CREATE INDEX issues_title_trgm ON issues USING gin (title gin_trgm_ops);
CREATE INDEX issues_culprit_trgm ON issues USING gin (culprit gin_trgm_ops);
