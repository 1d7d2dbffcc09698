-- Webhooks: subscriptions, and a transactional outbox of signed events (docs/webhooks.md).
--
-- An event is written by `webhook_emit(type, data)` in the transaction of the change it reports,
-- whoever made the change: the service calls it for orders, refunds and cancels (the payload is
-- the order as the API shows it), and the triggers below call it for price moves, flash-sale
-- items selling out, experiments rolled back, reservations expiring and configuration changes.
-- A change that rolls back leaves no event; a committed one has its deliveries, one per active
-- subscription whose `events` name the type (or '*'), already pending, and the delivery loop
-- (webhooks/dispatcher.py) sends them after any restart of any process. With no subscription
-- for the type, `webhook_emit` writes nothing.

CREATE TABLE webhooks (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url                        text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events                     text[] NOT NULL CHECK (cardinality(events) >= 1),
    description                text CHECK (length(description) <= 500),
    is_active                  boolean NOT NULL DEFAULT true,
    -- `whsec_` + base64 of 32 random bytes: the service must sign with it, so it is stored as is
    -- (and never shown again after the answer that created it).
    secret                     text NOT NULL,
    -- After a rotation the previous secret signs too, until it expires (WEBHOOK_SECRET_OVERLAP).
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    created_by                 text NOT NULL,
    updated_by                 text NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at                 timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX webhooks_list_idx ON webhooks (created_at, id);

-- One row per event that had at least one subscriber: the body every delivery of it sends,
-- byte for byte the same on every attempt (the signature covers it).
CREATE TABLE webhook_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

-- One row per (event, subscription). `id` is the `webhook-id` header: the same on every attempt.
-- A pending delivery is due at `next_attempt_at`; a sender claims it by moving that instant a
-- lease ahead (and counting the attempt), so a sender that dies mid-delivery leaves it due again
-- once the lease has passed, for any process to send again under the same id.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    type             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- `attempts` when the delivery was last sent again by hand (the retry route): the count of
    -- WEBHOOK_MAX_ATTEMPTS starts over from there.
    attempts_base    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT webhook_deliveries_due CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The sender's question, per subscription: which of its deliveries are due, oldest first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending';
-- The age of the oldest pending delivery (a metric).
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE status = 'pending';
-- The deliveries listing: a subscription's, newest first.
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

-- RFC 3339 in UTC with a Z, as the API writes instants.
CREATE FUNCTION webhook_time(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Write event `p_type` with `p_data` (a JSON text) for every active subscription that wants
-- it, in the caller's transaction. Body: {"type": ..., "timestamp": <the transaction's time>, "data": ...}.
CREATE FUNCTION webhook_emit(p_type text, p_data text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_event bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE is_active AND events && ARRAY[p_type, '*']) THEN
        RETURN;
    END IF;
    INSERT INTO webhook_events (type, body)
    VALUES (p_type, '{"type":' || to_json(p_type)::text || ',"timestamp":' || to_json(webhook_time(now()))::text
                    || ',"data":' || p_data || '}')
    RETURNING id INTO v_event;
    INSERT INTO webhook_deliveries (webhook_id, event_id, type)
    SELECT id, v_event, p_type FROM webhooks WHERE is_active AND events && ARRAY[p_type, '*'];
END $$;

-- Amounts as the API writes them: a string with the currency's minor-unit digits.
CREATE FUNCTION webhook_money(p_amount numeric, p_currency text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(p_amount, currency_minor_units(p_currency))::text
$$;

-- product.price_changed: every price move (move_price(), migration 0013, whatever called it:
-- an admin edit, inventory repricing, a campaign, a decision). A new product's first price is
-- no move (old_price is null).
CREATE FUNCTION webhook_price_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_currency text;
BEGIN
    SELECT currency INTO v_currency FROM products WHERE id = NEW.product_id;
    PERFORM webhook_emit('product.price_changed', json_build_object(
        'product_id', NEW.product_id,
        'currency', v_currency,
        'old_price', webhook_money(NEW.old_price, v_currency),
        'new_price', webhook_money(NEW.new_price, v_currency),
        'source', NEW.source,
        'reason', NEW.reason,
        'actor', NEW.actor,
        'ref_id', NEW.ref_id,
        'changed_at', webhook_time(NEW.changed_at))::text);
    RETURN NULL;
END $$;
CREATE TRIGGER price_history_webhook AFTER INSERT ON price_history
    FOR EACH ROW WHEN (NEW.old_price IS NOT NULL) EXECUTE FUNCTION webhook_price_changed();

-- flash_sale.sold_out: the ledger's purchase that takes an item's last allocated unit.
CREATE FUNCTION webhook_flash_sold_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit('flash_sale.sold_out', json_build_object(
        'flash_sale_id', NEW.flash_sale_id,
        'name', (SELECT name FROM flash_sales WHERE id = NEW.flash_sale_id),
        'product_id', NEW.product_id,
        'allocated_stock', NEW.allocated_stock,
        'sold', NEW.sold)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER flash_sale_items_webhook AFTER UPDATE OF sold ON flash_sale_items
    FOR EACH ROW WHEN (NEW.sold >= NEW.allocated_stock AND OLD.sold < OLD.allocated_stock)
    EXECUTE FUNCTION webhook_flash_sold_out();

-- experiment.rolled_back: the guardrail (or an admin) stamped `rolled_back_at` (migration 0020).
CREATE FUNCTION webhook_experiment_rolled_back() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit('experiment.rolled_back', json_build_object(
        'key', NEW.key,
        'flag_id', NEW.id,
        'reason', NULLIF(current_setting('quote_service.flag_change_reason', true), ''),
        'actor', NEW.updated_by,
        'rolled_back_at', webhook_time(NEW.rolled_back_at))::text);
    RETURN NULL;
END $$;
CREATE TRIGGER feature_flags_rollback_webhook AFTER UPDATE OF rolled_back_at ON feature_flags
    FOR EACH ROW WHEN (OLD.rolled_back_at IS NULL AND NEW.rolled_back_at IS NOT NULL)
    EXECUTE FUNCTION webhook_experiment_rolled_back();

-- reservation.expired: the sweeper closed a stock reservation past its expiry.
CREATE FUNCTION webhook_reservation_expired() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit('reservation.expired', json_build_object(
        'quote_id', NEW.quote_id,
        'customer_id', NEW.customer_id,
        'expires_at', webhook_time(NEW.expires_at),
        'lines', NEW.lines)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER reservations_expired_webhook AFTER UPDATE OF status ON reservations
    FOR EACH ROW WHEN (NEW.status = 'expired' AND OLD.status IS DISTINCT FROM 'expired')
    EXECUTE FUNCTION webhook_reservation_expired();

-- config.changed: a row of the pricing configuration was created, changed or deleted. A
-- deactivation (is_active true -> false: the DELETE routes of rates, coupons and promotions) and
-- a rule's retirement are `delete`; a rule's new version is an `update` (entity_id: that version).
-- TG_ARGV[0] is the entity type.
CREATE FUNCTION webhook_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_row    jsonb;
    v_action text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_row := to_jsonb(NEW);
        v_action := CASE WHEN coalesce((v_row ->> 'version')::integer, 1) > 1 THEN 'update' ELSE 'create' END;
    ELSIF TG_OP = 'DELETE' THEN
        v_row := to_jsonb(OLD);
        v_action := 'delete';
    ELSE
        v_row := to_jsonb(NEW);
        IF (to_jsonb(OLD) ->> 'retired_at') IS NULL AND (v_row ->> 'retired_at') IS NOT NULL THEN
            -- Retiring a rule stamps every version of its name: one event, for the newest.
            IF EXISTS (SELECT 1 FROM pricing_rules
                        WHERE name = v_row ->> 'name' AND version > (v_row ->> 'version')::integer) THEN
                RETURN NULL;
            END IF;
            v_action := 'delete';
        ELSIF (to_jsonb(OLD) ->> 'is_active')::boolean AND NOT (v_row ->> 'is_active')::boolean THEN
            v_action := 'delete';
        ELSE
            v_action := 'update';
        END IF;
    END IF;
    PERFORM webhook_emit('config.changed', json_build_object(
        'entity_type', TG_ARGV[0],
        'entity_id', coalesce(v_row ->> 'id', v_row ->> 'code'),
        'action', v_action)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER commission_rates_webhook AFTER INSERT OR UPDATE OR DELETE ON commission_rates
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('commission_rate');
CREATE TRIGGER pricing_rules_webhook AFTER INSERT OR UPDATE OR DELETE ON pricing_rules
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('pricing_rule');
CREATE TRIGGER feature_flags_webhook AFTER INSERT OR UPDATE OR DELETE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('feature_flag');
CREATE TRIGGER price_lists_webhook AFTER INSERT OR UPDATE OR DELETE ON price_lists
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('price_list');
-- Orders count coupon and promotion uses in these rows: a count alone is no configuration change.
CREATE TRIGGER coupons_webhook_ins_del AFTER INSERT OR DELETE ON coupons
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('coupon');
CREATE TRIGGER coupons_webhook_upd AFTER UPDATE ON coupons FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'updated_at'))
    EXECUTE FUNCTION webhook_config_changed('coupon');
CREATE TRIGGER promotions_webhook_ins_del AFTER INSERT OR DELETE ON promotions
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('promotion');
CREATE TRIGGER promotions_webhook_upd AFTER UPDATE ON promotions FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'updated_at'))
    EXECUTE FUNCTION webhook_config_changed('promotion');
