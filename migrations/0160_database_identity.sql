-- A random id for this database, made once. Each process appends its answered quotes' quote-log
-- rows to a spool on local disk before answering (quote_service/quotes/spool.py), in a directory
-- named after this id: two databases served from one machine (a test session's, the demo's, a
-- developer pointing DATABASE_URL elsewhere) never replay each other's rows. The service makes
-- the row again if it is missing (a TRUNCATE of every table gives the database a new id, and
-- with it a spool of its own).
CREATE TABLE database_identity (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO database_identity DEFAULT VALUES;
