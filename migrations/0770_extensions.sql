-- External tax and shipping extensions (docs/extensions.md): a webhook-like address a quote calls, once,
-- within its deadline, for the lines it applies to. The quote path reads the active ones from the
-- configuration snapshot, like shipping profiles: a change bumps the configuration version, emits
-- `config.changed` and is audited (migrations 0009, 0300, 0400), the secret never shown in the audit log.
CREATE TABLE extensions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text NOT NULL CHECK (kind IN ('tax', 'shipping')),
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    timeout_ms  integer NOT NULL CHECK (timeout_ms BETWEEN 50 AND 1000),
    -- ISO 3166-1 alpha-2, upper-case; NULL: every country.
    countries   text[] CHECK (cardinality(countries) >= 1),
    -- Sellers whose lines it prices; NULL: every seller.
    seller_ids  text[] CHECK (cardinality(seller_ids) >= 1),
    on_failure  text NOT NULL CHECK (on_failure IN ('fallback', 'reject')),
    is_active   boolean NOT NULL DEFAULT true,
    -- `whsec_` + base64: signs every call (Standard Webhooks), shown once when made.
    secret      text NOT NULL,
    created_by  text NOT NULL,
    updated_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX extensions_list_idx ON extensions (created_at, id);

CREATE TRIGGER extensions_config_version AFTER INSERT OR UPDATE OR DELETE ON extensions
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER extensions_config_version_truncate AFTER TRUNCATE ON extensions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER extensions_webhook AFTER INSERT OR UPDATE OR DELETE ON extensions
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('extension');
CREATE TRIGGER extensions_audit AFTER INSERT OR UPDATE OR DELETE ON extensions
    FOR EACH ROW EXECUTE FUNCTION audit_row('extension', 'id', '{secret}');
