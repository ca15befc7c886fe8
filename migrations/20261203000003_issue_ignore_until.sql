-- "Ignore until N more events" and "ignore for a while": an ignored issue with either bound comes
-- back (unresolved) with the event that reaches the count, or with its first event after the time.
ALTER TABLE issues
    ADD COLUMN ignore_until_count BIGINT,
    ADD COLUMN ignore_until TIMESTAMPTZ;
