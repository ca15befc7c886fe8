-- Single-use links sent to people: the first admin's set-up link, invitations and password
-- resets. Only the SHA-256 of the link's token is stored.
CREATE TABLE account_links (
    token_hash BYTEA PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('setup', 'invite', 'reset')),
    -- The invited user, or the user whose password is reset; NULL for the set-up link.
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX account_links_user ON account_links (user_id);
