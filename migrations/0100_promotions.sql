-- Automatic promotions (API.md §14, docs/promotions.md): no code, they apply to every quote whose
-- basket meets their conditions. `conditions` and `config` are validated by the service per
-- `kind`; the CHECK constraints are the backstop. `times_used` counts orders (under the row lock,
-- like coupons) and, like coupons, a change of it alone does not bump the configuration version
-- (every order would reload every process) — except the use that reaches `usage_limit` and the
-- release that goes back under it: then quotes must stop (or start again) offering it.

CREATE TABLE promotions (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                  text NOT NULL CHECK (kind IN ('PERCENT_OFF', 'AMOUNT_OFF', 'BUY_X_GET_Y', 'FREE_DELIVERY')),
    conditions            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(conditions) = 'object'),
    config                jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    priority              integer NOT NULL DEFAULT 0,
    combinable            boolean NOT NULL DEFAULT true,
    combines_with_coupons boolean NOT NULL DEFAULT true,
    starts_at             timestamptz NOT NULL,
    ends_at               timestamptz,
    usage_limit           integer CHECK (usage_limit >= 1),
    times_used            integer NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    is_active             boolean NOT NULL DEFAULT true,
    created_by            text NOT NULL,
    updated_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT promotions_window CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX promotions_list_idx ON promotions (created_at, id);

CREATE TRIGGER promotions_config_version_ins_del AFTER INSERT OR DELETE ON promotions
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER promotions_config_version_upd AFTER UPDATE ON promotions FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'updated_at')
          OR (OLD.times_used >= OLD.usage_limit) IS DISTINCT FROM (NEW.times_used >= NEW.usage_limit))
    EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER promotions_config_version_truncate AFTER TRUNCATE ON promotions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

-- One row per promotion per order, written under the promotion's row lock by the order
-- (a cancel that releases the use deletes the row and decrements times_used).
CREATE TABLE promotion_redemptions (
    order_id     uuid NOT NULL REFERENCES orders (id),
    promotion_id uuid NOT NULL REFERENCES promotions (id),
    position     integer NOT NULL,
    customer_id  text NOT NULL,
    kind         text NOT NULL,
    amount       numeric(20, 4) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (order_id, promotion_id)
);
CREATE INDEX promotion_redemptions_promotion_idx ON promotion_redemptions (promotion_id);
