-- Stranded flash-sale units come back (issue 32 item 4), and never a unit still being written.
--
-- A purchase (or an order's flash line) first takes units in Redis under a HOLD: a token of its
-- own, recorded in the sale's `holds` hash with the units and the time. The ledger row that
-- settles the hold carries its token (`flash_purchases.hold`); an undo gives the units back and
-- drops the hold. When the undo itself fails (Redis unreachable at that moment, the process
-- killed), the hold stays, and the hold reconciler (flash_sales/reconciler.py) judges it once it
-- is older than FLASH_HOLD_GRACE_SECONDS:
--   - under the item row's lock (the lock every ledger write of that product takes first, and
--     an order keeps until it commits), it looks for the ledger row with the hold's token;
--   - none: it VOIDS the hold here, in that same transaction, and only then gives the units
--     back in Redis. A ledger write of that hold that comes later (a request stuck for longer
--     than the grace) takes the same lock, sees the void and fails (QF004, nothing sold), so a
--     unit is never both given back and sold.
ALTER TABLE flash_purchases ADD COLUMN hold text;

CREATE TABLE flash_hold_voids (
    flash_sale_id uuid NOT NULL REFERENCES flash_sales (id) ON DELETE CASCADE,
    hold          text NOT NULL,
    voided_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flash_sale_id, hold)
);

-- migrations/0008's function, with the hold: refused when the hold was voided (checked after the
-- item row's lock is taken, so a void committed before is seen), and stored with the row. An
-- overload (one more argument): processes still running the previous release keep calling the
-- twelve-argument one during a rolling upgrade.

CREATE FUNCTION flash_record_purchase(
    p_id uuid,
    p_sale uuid,
    p_product uuid,
    p_customer text,
    p_quantity integer,
    p_unit_price numeric,
    p_total numeric,
    p_currency char(3),
    p_principal uuid,
    p_key text,
    p_hash bytea,
    p_order uuid,
    p_hold text
) RETURNS SETOF flash_purchases
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_limit integer;
    v_owned bigint;
BEGIN
    UPDATE flash_sale_items SET sold = sold + p_quantity
     WHERE flash_sale_id = p_sale AND product_id = p_product AND returned_stock IS NULL
       AND sold + p_quantity <= allocated_stock
    RETURNING per_user_limit INTO v_limit;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM flash_sale_items
                    WHERE flash_sale_id = p_sale AND product_id = p_product AND returned_stock IS NULL) THEN
            RAISE EXCEPTION 'SOLD_OUT' USING ERRCODE = 'QF001';
        END IF;
        RAISE EXCEPTION 'SALE_NOT_ACTIVE' USING ERRCODE = 'QF002';
    END IF;
    IF p_hold IS NOT NULL AND EXISTS (SELECT 1 FROM flash_hold_voids WHERE flash_sale_id = p_sale AND hold = p_hold) THEN
        RAISE EXCEPTION 'HOLD_VOIDED' USING ERRCODE = 'QF004';
    END IF;
    SELECT coalesce(sum(quantity), 0) INTO v_owned FROM flash_purchases
     WHERE flash_sale_id = p_sale AND product_id = p_product AND customer_id = p_customer;
    IF v_owned + p_quantity > v_limit THEN
        RAISE EXCEPTION 'PURCHASE_LIMIT_EXCEEDED' USING ERRCODE = 'QF003';
    END IF;
    RETURN QUERY
        INSERT INTO flash_purchases (id, flash_sale_id, product_id, customer_id, quantity, unit_price, total,
                                     currency, principal_id, idempotency_key, request_hash, order_id, hold)
        VALUES (p_id, p_sale, p_product, p_customer, p_quantity, p_unit_price, p_total, p_currency,
                p_principal, p_key, p_hash, p_order, p_hold)
        RETURNING *;
END
$$;
