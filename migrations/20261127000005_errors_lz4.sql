-- Large values (an SDK event's payload, long stack traces, big contexts) are compressed with lz4,
-- several times cheaper than PostgreSQL's default pglz for the same data. A PostgreSQL built
-- without lz4 keeps its default.
DO $$
BEGIN
    ALTER TABLE errors ALTER COLUMN payload SET COMPRESSION lz4,
                       ALTER COLUMN context SET COMPRESSION lz4,
                       ALTER COLUMN stack_trace SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression is not available here; keeping the default';
END
$$;
