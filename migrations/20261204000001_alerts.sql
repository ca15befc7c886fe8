-- Alerts: per project, channels (where messages go) and rules (when), an outbox of deliveries
-- written in the worker's transaction, each delivery's attempts, and the per rule and issue
-- cooldowns and event counts the rules need.

-- Levels in order, for "level at least".
CREATE FUNCTION faultline_level_rank(level TEXT) RETURNS SMALLINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE level WHEN 'debug' THEN 0 WHEN 'info' THEN 1 WHEN 'warning' THEN 2 WHEN 'error' THEN 3 WHEN 'fatal' THEN 4 END;

CREATE TABLE alert_channels (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'slack', 'discord', 'teams', 'ntfy', 'webhook')),
    name TEXT NOT NULL,
    -- Where chat and webhook messages are posted; NULL for email.
    url TEXT,
    -- ntfy: an access token sent as `Authorization: Bearer`.
    token TEXT,
    -- Email: fixed addresses; empty means the project's members, each by their own preference.
    recipients TEXT[] NOT NULL DEFAULT '{}',
    -- Webhook: the Standard Webhooks signing key (`whsec_…`).
    secret TEXT,
    -- ok; failing (retrying); broken (a permanent refusal: someone has to fix it).
    status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failing', 'broken')),
    last_error TEXT,
    last_error_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_channels_project ON alert_channels (project_id, id);

CREATE TABLE alert_rules (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    on_new_issue BOOLEAN NOT NULL DEFAULT false,
    on_regression BOOLEAN NOT NULL DEFAULT false,
    -- An ignored issue that passed the volume or time it was ignored until.
    on_unignored BOOLEAN NOT NULL DEFAULT false,
    -- At least `volume_events` events (passing the filters) within `volume_minutes`.
    volume_events INT CHECK (volume_events > 0),
    volume_minutes INT CHECK (volume_minutes BETWEEN 1 AND 1440),
    min_level TEXT CHECK (min_level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    environments TEXT[] NOT NULL DEFAULT '{}',
    release TEXT,
    tags JSONB NOT NULL DEFAULT '{}',
    cooldown_minutes INT NOT NULL DEFAULT 30 CHECK (cooldown_minutes BETWEEN 0 AND 10080),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((volume_events IS NULL) = (volume_minutes IS NULL))
);
CREATE INDEX alert_rules_project ON alert_rules (project_id, id);

CREATE TABLE alert_rule_channels (
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel ON alert_rule_channels (channel_id);

-- The outbox. Its id is the message's stable id (`webhook-id`, `Message-ID`), the same on
-- every attempt.
CREATE TABLE alert_deliveries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    rule_id BIGINT REFERENCES alert_rules (id) ON DELETE SET NULL,
    issue_id BIGINT REFERENCES issues (id) ON DELETE CASCADE,
    -- Email: the one address this delivery goes to.
    recipient TEXT,
    "trigger" TEXT NOT NULL,
    -- What the message says beside the issue (release, environment, what a cooldown held back).
    detail JSONB NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INT NOT NULL DEFAULT 0,
    -- When a sender may take it (again); taking it moves this forward by a lease.
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Failed tries are retried until then (a day; Redeliver starts another).
    retry_until TIMESTAMPTZ NOT NULL DEFAULT now() + interval '24 hours',
    last_status INT,
    last_error TEXT,
    -- The rendered message, fixed at the first attempt so every retry sends the same.
    payload TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, created_at DESC, id);

CREATE TABLE alert_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id UUID NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    latency_ms INT NOT NULL,
    status INT,
    -- The receiver's answer, cut to a few kilobytes.
    response TEXT,
    error TEXT,
    payload TEXT
);
CREATE INDEX alert_attempts_delivery ON alert_attempts (delivery_id, id);

-- Per rule and issue: until when further triggers are held back, and what was held.
CREATE TABLE alert_cooldowns (
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    issue_id BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    until TIMESTAMPTZ NOT NULL,
    last_sent_at TIMESTAMPTZ NOT NULL,
    -- The issue's event count when the last message went.
    count_at BIGINT NOT NULL,
    -- The triggers held back (the first few), and how many in all.
    held JSONB NOT NULL DEFAULT '[]',
    held_count INT NOT NULL DEFAULT 0,
    PRIMARY KEY (rule_id, issue_id)
);
CREATE INDEX alert_cooldowns_held ON alert_cooldowns (until) WHERE held_count > 0;

-- Events per rule, issue and minute that passed a volume rule's filters.
CREATE TABLE alert_counts (
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    issue_id BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    minute TIMESTAMPTZ NOT NULL,
    n INT NOT NULL,
    PRIMARY KEY (rule_id, issue_id, minute)
);
CREATE INDEX alert_counts_minute ON alert_counts (minute);

-- How each user wants a project's email alerts: every alert, an hourly or daily digest, none.
CREATE TABLE alert_email_prefs (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    mode TEXT NOT NULL CHECK (mode IN ('every', 'hourly', 'daily', 'none')),
    PRIMARY KEY (user_id, project_id)
);

-- The one-click unsubscribe link of a member's alert emails, per project.
CREATE TABLE alert_unsubscribe_tokens (
    token TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    UNIQUE (user_id, project_id)
);

-- Alerts waiting for a user's digest.
CREATE TABLE alert_digest_items (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    issue_id BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    "trigger" TEXT NOT NULL,
    detail JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_digest_items_user ON alert_digest_items (user_id, project_id, id);

-- Every project starts with an email channel to its members and one rule: new issues,
-- regressions and ignored issues coming back, of level error and above.
CREATE FUNCTION faultline_default_alerts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    channel BIGINT;
    rule BIGINT;
BEGIN
    INSERT INTO alert_channels (project_id, kind, name) VALUES (NEW.id, 'email', 'Project members')
    RETURNING id INTO channel;
    INSERT INTO alert_rules (project_id, name, on_new_issue, on_regression, on_unignored, min_level)
    VALUES (NEW.id, 'New and returning issues', true, true, true, 'error')
    RETURNING id INTO rule;
    INSERT INTO alert_rule_channels (rule_id, channel_id) VALUES (rule, channel);
    RETURN NEW;
END
$$;
CREATE TRIGGER projects_default_alerts AFTER INSERT ON projects
FOR EACH ROW EXECUTE FUNCTION faultline_default_alerts();

WITH c AS (
    INSERT INTO alert_channels (project_id, kind, name) SELECT id, 'email', 'Project members' FROM projects
    RETURNING id, project_id
), r AS (
    INSERT INTO alert_rules (project_id, name, on_new_issue, on_regression, on_unignored, min_level)
    SELECT id, 'New and returning issues', true, true, true, 'error' FROM projects
    RETURNING id, project_id
)
INSERT INTO alert_rule_channels (rule_id, channel_id) SELECT r.id, c.id FROM r JOIN c USING (project_id);
