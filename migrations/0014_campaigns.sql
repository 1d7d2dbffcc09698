-- Campaigns: a product's price steered by demand over a fixed window, one hourly move at a time.
--
-- The scheduler of every process may tick: an hour is applied under the campaign's row lock
-- and `hours_elapsed` moves by one with it, so each campaign-hour moves the price exactly once.
-- Prices move through move_price() (migrations/0013) with source 'campaign'.

CREATE TABLE campaigns (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                     text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    product_id               uuid NOT NULL REFERENCES products (id),
    status                   text NOT NULL CHECK (status IN ('active', 'ended')),
    duration_hours           integer NOT NULL CHECK (duration_hours BETWEEN 1 AND 720),
    price_manipulation_limit numeric NOT NULL CHECK (price_manipulation_limit > 0 AND price_manipulation_limit < 100),
    target_sales             integer NOT NULL CHECK (target_sales > 0),
    -- The product's price when the campaign started; it returns there at the end.
    base_price               numeric(20, 4) NOT NULL,
    -- Units and amounts (after discounts) of the product in orders placed while active.
    total_sales              bigint NOT NULL DEFAULT 0,
    turnover                 numeric(20, 4) NOT NULL DEFAULT 0,
    -- Hours applied so far (on the service clock, counted from started_at).
    hours_elapsed            integer NOT NULL DEFAULT 0,
    started_at               timestamptz NOT NULL,
    ends_at                  timestamptz NOT NULL,
    ended_at                 timestamptz,
    created_by               text NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One active campaign per product (409 CAMPAIGN_OVERLAP).
CREATE UNIQUE INDEX campaigns_one_active_per_product ON campaigns (product_id) WHERE status = 'active';
CREATE INDEX campaigns_list_idx ON campaigns (created_at DESC, id DESC);
-- What the scheduler looks for.
CREATE INDEX campaigns_active_idx ON campaigns (started_at) WHERE status = 'active';

-- Sales are counted in the order's own transaction (the order already holds the product's row
-- lock, so the campaign row is always locked after it, as the scheduler does too).
CREATE FUNCTION count_campaign_sale() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NEW.product_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE campaigns
           SET total_sales = total_sales + NEW.quantity,
               turnover = turnover + NEW.line_subtotal - NEW.discount
         WHERE product_id = NEW.product_id::uuid AND status = 'active';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_lines_campaign_sales AFTER INSERT ON order_lines
    FOR EACH ROW EXECUTE FUNCTION count_campaign_sale();
