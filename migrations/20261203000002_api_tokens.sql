-- Personal API tokens: sent as `Authorization: Bearer <token>`, they act as their user (with that
-- user's projects and roles) within their scope. Only the SHA-256 of a token is stored.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    -- The first characters of the token, to recognise it in a list.
    prefix TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- The audit log is read newest first, filtered by who, which project or what.
CREATE INDEX audit_log_actor ON audit_log (lower(actor), id DESC);
CREATE INDEX audit_log_project ON audit_log (project_id, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
