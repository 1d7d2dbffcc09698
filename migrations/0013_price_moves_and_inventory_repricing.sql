-- One path for every price move, and inventory repricing on every stock change.
--
-- move_price() is the only statement that changes an existing product's current_price: the
-- admin edit, inventory repricing, campaigns and later automatic decisions all call it, in the
-- caller's transaction. It appends the price-history row with its source, reason and the id of
-- the rule / campaign / decision behind it. Caches learn of the change from the products row
-- itself: its trigger (0009) bumps cache_version and queues a product_cache_outbox row in the
-- same transaction.
--
-- Inventory repricing is a trigger on products.stock: whatever changes stock (the stock
-- endpoint, orders, flash-sale allocation and returns, plain SQL) gets its repricing decision
-- in the same transaction, and a rolled-back stock change leaves neither a move nor an event.

ALTER TABLE price_history ADD COLUMN ref_id uuid;
COMMENT ON COLUMN price_history.ref_id IS 'The pricing rule (inventory), campaign or decision behind the move; NULL for manual changes';

-- Digits after the decimal point of an ISO 4217 currency (quote_service.pricing.money, tested equal).
CREATE FUNCTION currency_minor_units(p_currency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI',
                            'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
        WHEN p_currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
        WHEN p_currency IN ('CLF', 'UYW') THEN 4
        ELSE 2
    END
$$;

-- Set a product's current_price and record why. Returns the price before; NULL for an unknown
-- product. A "move" to the same price changes nothing and records nothing.
CREATE FUNCTION move_price(
    p_product uuid,
    p_new_price numeric,
    p_source text,
    p_reason text,
    p_actor text,
    p_ref uuid
) RETURNS numeric
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_old numeric;
BEGIN
    SELECT current_price INTO v_old FROM products WHERE id = p_product FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_old = p_new_price THEN
        RETURN v_old;
    END IF;
    UPDATE products SET current_price = p_new_price, updated_at = now() WHERE id = p_product;
    INSERT INTO price_history (product_id, old_price, new_price, reason, source, actor, ref_id)
    VALUES (p_product, v_old, p_new_price, p_reason, p_source, p_actor, p_ref);
    RETURN v_old;
END
$$;

-- Every inventory repricing decision, applied or not.
CREATE TABLE repricing_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id   uuid NOT NULL REFERENCES products (id),
    reason       text NOT NULL CHECK (reason IN ('low_stock', 'high_stock')),
    stock_before integer NOT NULL,
    stock_after  integer NOT NULL,
    old_price    numeric(20, 4) NOT NULL,
    -- The price after the decision: equal to old_price when nothing moved.
    new_price    numeric(20, 4) NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('applied', 'cooldown', 'clamped', 'unchanged')),
    rule_id      uuid NOT NULL,
    rule_version integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX repricing_events_list_idx ON repricing_events (created_at DESC, id DESC);
CREATE INDEX repricing_events_product_idx ON repricing_events (product_id, created_at DESC, id DESC);
-- The cooldown looks up the last decision of a reason that moved the price.
CREATE INDEX repricing_events_moves_idx ON repricing_events (product_id, reason, created_at DESC)
    WHERE new_price <> old_price;

-- The effective INVENTORY_LEVEL rule of a product at `p_at`: per name the highest version
-- that is active, not retired and in its window; then product-specific over category-specific
-- over global, then priority, version, latest start, name.
CREATE FUNCTION inventory_rule_for(p_product uuid, p_category text, p_at timestamptz)
RETURNS TABLE (id uuid, version integer, configuration jsonb)
LANGUAGE sql STABLE AS $$
    WITH effective AS (
        SELECT DISTINCT ON (r.name) r.*
          FROM pricing_rules r
         WHERE r.is_active AND r.retired_at IS NULL
           AND r.effective_from <= p_at AND (r.effective_to IS NULL OR p_at < r.effective_to)
         ORDER BY r.name, r.version DESC
    )
    SELECT e.id, e.version, e.configuration
      FROM effective e
     WHERE e.type = 'INVENTORY_LEVEL'
       AND (e.product_id IS NULL OR e.product_id = p_product)
       AND (e.category_id IS NULL OR e.category_id = p_category)
     ORDER BY (e.product_id IS NOT NULL) DESC, (e.category_id IS NOT NULL) DESC, e.priority DESC,
              e.version DESC, e.effective_from DESC, e.name
     LIMIT 1
$$;

-- The ceiling of automatic prices: base_price x (1 + MAX_MARKUP_PERCENT / 100). The service
-- sets quote_service.max_markup_percent on each of its connections; 50 otherwise.
CREATE FUNCTION max_markup_percent() RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('quote_service.max_markup_percent', true), '')::numeric, 50)
$$;

CREATE FUNCTION reprice_on_stock_change() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_reason   text;
    v_rule     record;
    v_percent  numeric;
    v_product  record;
    v_cooldown integer;
    v_proposed numeric;
    v_new      numeric;
    v_ceiling  numeric;
    v_outcome  text;
BEGIN
    IF NEW.stock < OLD.stock THEN
        v_reason := 'low_stock';
    ELSE
        v_reason := 'high_stock';
    END IF;
    SELECT * INTO v_rule FROM inventory_rule_for(NEW.id, NEW.category_id, now());
    IF NOT FOUND THEN
        RETURN NULL;  -- no rule, no repricing
    END IF;
    IF v_reason = 'low_stock' THEN
        IF NEW.stock > (v_rule.configuration ->> 'low_threshold')::integer THEN
            RETURN NULL;
        END IF;
        v_percent := (v_rule.configuration ->> 'low_adjust_percent')::numeric;
    ELSE
        IF NEW.stock < (v_rule.configuration ->> 'high_threshold')::integer THEN
            RETURN NULL;
        END IF;
        v_percent := (v_rule.configuration ->> 'high_adjust_percent')::numeric;
    END IF;
    v_cooldown := (v_rule.configuration ->> 'cooldown_hours')::integer;
    -- The row as this transaction sees it now (a move earlier in it may have changed the price).
    SELECT current_price, min_price, base_price, currency INTO v_product FROM products WHERE id = NEW.id;

    IF v_cooldown > 0 AND EXISTS (
        SELECT 1 FROM repricing_events e
         WHERE e.product_id = NEW.id AND e.reason = v_reason AND e.new_price <> e.old_price
           AND e.created_at > clock_timestamp() - make_interval(hours => v_cooldown)
    ) THEN
        v_outcome := 'cooldown';
        v_new := v_product.current_price;
    ELSE
        v_proposed := round(v_product.current_price * (1 + v_percent / 100),
                            currency_minor_units(v_product.currency));
        v_ceiling := round(v_product.base_price * (1 + max_markup_percent() / 100),
                           currency_minor_units(v_product.currency));
        v_new := least(greatest(v_proposed, v_product.min_price), greatest(v_ceiling, v_product.min_price));
        -- A bound never turns a move around: a raise that finds the price above the ceiling
        -- leaves it there, as a cut below the floor would.
        IF (v_percent > 0 AND v_new < v_product.current_price) OR (v_percent < 0 AND v_new > v_product.current_price) THEN
            v_new := v_product.current_price;
        END IF;
        IF v_new <> v_proposed THEN
            v_outcome := 'clamped';
        ELSIF v_new = v_product.current_price THEN
            v_outcome := 'unchanged';
        ELSE
            v_outcome := 'applied';
        END IF;
        IF v_new <> v_product.current_price THEN
            PERFORM move_price(NEW.id, v_new, 'inventory',
                               format('%s: stock %s -> %s', v_reason, OLD.stock, NEW.stock),
                               'inventory-repricing', v_rule.id);
        END IF;
    END IF;
    INSERT INTO repricing_events (product_id, reason, stock_before, stock_after, old_price, new_price, outcome,
                                  rule_id, rule_version)
    VALUES (NEW.id, v_reason, OLD.stock, NEW.stock, v_product.current_price, v_new, v_outcome,
            v_rule.id, v_rule.version);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_inventory_repricing AFTER UPDATE OF stock ON products
    FOR EACH ROW WHEN (NEW.stock IS DISTINCT FROM OLD.stock)
    EXECUTE FUNCTION reprice_on_stock_change();
