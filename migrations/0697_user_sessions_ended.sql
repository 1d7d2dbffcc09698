-- Ending every session of a user (POST /api/v1/users/{id}/sessions/revoke, and deactivating
-- the user: docs/authentication.md): a bearer token of that user issued at or before
-- `sessions_ended_at` is refused. A column of the user, so the audit log records who ended them
-- (the users trigger of migration 0530). Each process keeps the recent ones in memory
-- (quote_service/auth/revocations.py) and reads those written since its last look, by
-- `updated_at`, through the partial index.
ALTER TABLE users ADD COLUMN sessions_ended_at timestamptz;
CREATE INDEX users_sessions_ended ON users (updated_at) WHERE sessions_ended_at IS NOT NULL;
