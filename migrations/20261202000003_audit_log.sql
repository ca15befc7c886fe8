-- Who did what, when and from where: sign-ins, account, key and issue changes. Entries are
-- never edited, and none younger than a year is deleted.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- The actor as they were named then (an email), kept when the user goes.
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    -- No foreign key: entries outlive the projects they concern.
    project_id BIGINT,
    target TEXT NOT NULL DEFAULT '',
    address TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

CREATE FUNCTION audit_log_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit entries are never changed';
    END IF;
    IF OLD.at > now() - interval '1 year' THEN
        RAISE EXCEPTION 'audit entries are kept at least a year';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER audit_log_keep BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_keep();
