-- Projects own everything else. The public key is the DSN key SDKs send: 32 lowercase hex.
CREATE TABLE projects (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    public_key  TEXT NOT NULL UNIQUE CHECK (public_key ~ '^[0-9a-f]{32}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The project every fresh installation starts with; its key is random per installation.
INSERT INTO projects (name, public_key)
VALUES ('default', md5(random()::text || clock_timestamp()::text));
