-- Order edits and exchanges (docs/orders-and-refunds.md#edits-and-exchanges).
--
-- An edit re-prices an order's basket under the order's OWN terms: the configuration in force when it
-- was placed, never today's. Each order keeps them from now on:
--   * `pricing_terms`: the non-price configuration of one configuration version (fee and TAX_RATE rules,
--     commission rates, shipping profiles, the engine's defaults), stored once per distinct content
--     (keyed by its SHA-256) and shared by every order placed under it;
--   * `orders.terms`: the order's own part (its digest, the coupons and promotions its quote applied as
--     they were then, the flags its quote was served), and, from its first edit on, the request context
--     its quote was made with (address, express, channel, the customer's tier/segment/group).
-- Orders placed before this migration have no terms (NULL): they cannot be edited (409 ORDER_TERMS_UNKNOWN).
--
-- The money is append-only, as refunds are. A committed edit retires every live line, commission detail,
-- promotion row and shipment of the order (`retired_by` = the edit) and writes the edited basket's as new
-- rows (`edit_id` = the edit; positions continue after the last one). A retired line keeps what it charged
-- and what refunds gave back of it; what was left of it moved to the edit. The order's lines are its live
-- ones; a seller's statement counts the order as placed (`edit_id IS NULL`), its refunds, and one ledger
-- entry per edit and seller (`order_edit_sellers`: the edited basket's parts less what the retired lines
-- had left). A negative difference is paid back by a refund of kind `edit` (its amounts the reversal; no
-- refund lines: the ledger carries it through the edit's entry); a positive one adds to `balance_due`.

CREATE TABLE pricing_terms (
    digest     bytea PRIMARY KEY,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

ALTER TABLE orders
    ADD COLUMN revision    integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    ADD COLUMN balance_due numeric(20, 4) NOT NULL DEFAULT 0 CHECK (balance_due >= 0),
    ADD COLUMN terms       jsonb;

ALTER TABLE order_lines ADD COLUMN edit_id uuid, ADD COLUMN retired_by uuid;
ALTER TABLE order_commissions ADD COLUMN retired_by uuid;
ALTER TABLE order_promotions ADD COLUMN retired_by uuid;
ALTER TABLE order_shipments ADD COLUMN edit_id uuid, ADD COLUMN retired_by uuid;
-- One LIVE shipment per seller (a retired one and its successor may share the seller).
ALTER TABLE order_shipments DROP CONSTRAINT order_shipments_one_per_seller;
CREATE UNIQUE INDEX order_shipments_one_per_seller ON order_shipments (order_id, seller_id) WHERE retired_by IS NULL;

CREATE TABLE order_edits (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id),
    -- The order as the preview priced it: its revision and how many refunds it had (a commit of a preview
    -- whose order moved on since is 409 ORDER_CHANGED).
    revision           integer NOT NULL,
    refunds            integer NOT NULL,
    request            jsonb NOT NULL,
    -- What the commit writes (the edited basket, priced), and the preview as answered.
    priced             jsonb NOT NULL,
    preview            jsonb NOT NULL,
    difference_due     numeric(20, 4) NOT NULL,
    principal_id       uuid NOT NULL,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at         timestamptz NOT NULL,
    -- Set by its commit (one at most: the order's revision moves with it).
    committed_at       timestamptz,
    committed_revision integer,
    commit_principal   uuid,
    idempotency_key    text CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash       bytea,
    refund_id          uuid REFERENCES refunds (id),
    CONSTRAINT order_edits_idempotency_key UNIQUE (commit_principal, idempotency_key)
);
CREATE INDEX order_edits_order_idx ON order_edits (order_id, committed_at);
CREATE INDEX order_edits_expiry_idx ON order_edits (expires_at) WHERE committed_at IS NULL;

-- A seller's ledger entry of a committed edit (kind `edit`): what the edit changed of its part, each
-- amount the edited basket's less what the retired lines (and its retired shipment) had left.
CREATE TABLE order_edit_sellers (
    edit_id        uuid NOT NULL REFERENCES order_edits (id),
    order_id       uuid NOT NULL REFERENCES orders (id),
    seller_id      text,
    currency       char(3) NOT NULL,
    at             timestamptz NOT NULL,
    goods          numeric(20, 4) NOT NULL,
    tax            numeric(20, 4) NOT NULL,
    platform       numeric(20, 4) NOT NULL,
    commission     numeric(20, 4) NOT NULL,
    commission_tax numeric(20, 4) NOT NULL,
    delivery       numeric(20, 4) NOT NULL,
    -- The tax change by code ({"KDV": "1.80"}; a line priced by one rate: code TAX), and whether the
    -- lines kept their components (docs/taxes.md#statements).
    taxes          jsonb NOT NULL DEFAULT '{}',
    kept           boolean NOT NULL DEFAULT false
);
CREATE INDEX order_edit_sellers_seller_idx ON order_edit_sellers (seller_id, at);
CREATE INDEX order_edit_sellers_edit_idx ON order_edit_sellers (edit_id);

ALTER TABLE refunds DROP CONSTRAINT refunds_kind_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_kind_check CHECK (kind IN ('refund', 'cancel', 'edit'));

-- Campaign sales (migration 0014) count units as ordered: the lines an edit rewrites are not sold again.
CREATE OR REPLACE FUNCTION count_campaign_sale() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NEW.edit_id IS NULL
       AND NEW.product_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE campaigns
           SET total_sales = total_sales + NEW.quantity,
               turnover = turnover + NEW.line_subtotal - NEW.discount
         WHERE product_id = NEW.product_id::uuid AND status = 'active';
    END IF;
    RETURN NULL;
END
$$;

-- A commit's Idempotency-Key keeps its refusals as an order's and a refund's do (db/idempotency.py).
ALTER TABLE idempotency_refusals DROP CONSTRAINT idempotency_refusals_scope_check;
ALTER TABLE idempotency_refusals ADD CONSTRAINT idempotency_refusals_scope_check
    CHECK (scope IN ('order', 'refund', 'code_batch', 'order_edit'));

-- Reports read an edited order at its revision (analytics/rollups.py): an edit's commit marks its order's
-- pricing and commission hours for recounting, as a refund does (migration 0070).
CREATE TRIGGER order_edits_rollup_mark AFTER UPDATE ON order_edits
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_refunds();
