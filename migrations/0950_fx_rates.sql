-- Exchange rates (docs/currencies.md): configuration like commission rates, versioned per pair. A row is
-- never changed: a newer rate of the same (base, quote) supersedes it from its own `valid_from`, so the
-- history stays (`GET /api/v1/fx-rates`) and a rate in force at any past instant can be found again.
-- `rate` is how many units of `quote` one unit of `base` buys, as exact decimal text (at most 12
-- decimals), so the audit log shows it as the API does, never as a float.
--
-- The quote path reads rates from the configuration snapshot: a new rate bumps the configuration version,
-- emits `config.changed` and is audited (migrations 0009, 0300, 0400) in the writer's transaction.

CREATE TABLE fx_rates (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    base       char(3) NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
    quote      char(3) NOT NULL CHECK (quote ~ '^[A-Z]{3}$' AND quote <> base),
    rate       text NOT NULL CHECK (rate::numeric > 0 AND scale(rate::numeric) <= 12),
    source     text NOT NULL CHECK (source IN ('manual', 'ecb', 'psp')),
    valid_from timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The rate in force for a pair at an instant: the newest valid_from at or before it (ties: the newest row).
CREATE INDEX fx_rates_pair_idx ON fx_rates (base, quote, valid_from DESC, created_at DESC);
CREATE INDEX fx_rates_list_idx ON fx_rates (created_at, id);

CREATE TRIGGER fx_rates_config_version AFTER INSERT OR UPDATE OR DELETE ON fx_rates
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER fx_rates_config_version_truncate AFTER TRUNCATE ON fx_rates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER fx_rates_webhook AFTER INSERT OR UPDATE OR DELETE ON fx_rates
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('fx_rate');
CREATE TRIGGER fx_rates_audit AFTER INSERT OR UPDATE OR DELETE ON fx_rates
    FOR EACH ROW EXECUTE FUNCTION audit_row('fx_rate', 'id');
