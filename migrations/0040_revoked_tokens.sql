-- Ended sessions: a bearer token (or the pages' session cookie, which holds one) whose owner
-- logged out, keyed by the token's `jti` claim. Checked on every bearer request through each
-- process's in-memory copy (quote_service/auth/revocations.py); this table is the truth that
-- survives restarts. A row is useless once its token has expired and is deleted some time after.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),
    user_id    uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE revoked_tokens IS 'Tokens refused before their expiry (logout), by jti';

-- Other processes read what was revoked since their last look; the clean-up drops expired rows.
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
