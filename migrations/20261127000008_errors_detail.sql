-- An SDK event's large parts that no query looks into (exceptions with their frames, breadcrumbs,
-- modules, the rest of what the SDK sent) are kept as one document the worker has already
-- compressed (`src/server/db/detail.rs`): PostgreSQL neither parses nor compresses them again.
-- Older rows keep those parts in `context` and `payload`.
ALTER TABLE errors ADD COLUMN detail BYTEA;
ALTER TABLE errors ALTER COLUMN detail SET STORAGE EXTERNAL;
