-- A flash purchase's ledger write in one round trip.
--
-- The purchase's checks need the item row's lock (every purchase of a product queues on it),
-- and the lock is held until COMMIT. Issued statement by statement from the client (BEGIN,
-- UPDATE, SELECT, INSERT, COMMIT) the lock was held across four network round trips, and a
-- busy client process made the next winner wait for it (BENCHMARKS.md). As one function call
-- in its own implicit transaction the lock is held only while the server runs the function
-- and commits. Each statement in a VOLATILE plpgsql function takes a fresh snapshot, so the
-- customer's sum, read after the lock is taken, sees every purchase committed before.
--
-- Refusals raise custom SQLSTATEs (class QF): QF001 SOLD_OUT, QF002 SALE_NOT_ACTIVE,
-- QF003 PURCHASE_LIMIT_EXCEEDED. A reused Idempotency-Key raises the unique violation of
-- flash_purchases_idempotency_key as a plain INSERT would.

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
    p_order uuid
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
    SELECT coalesce(sum(quantity), 0) INTO v_owned FROM flash_purchases
     WHERE flash_sale_id = p_sale AND product_id = p_product AND customer_id = p_customer;
    IF v_owned + p_quantity > v_limit THEN
        RAISE EXCEPTION 'PURCHASE_LIMIT_EXCEEDED' USING ERRCODE = 'QF003';
    END IF;
    RETURN QUERY
        INSERT INTO flash_purchases (id, flash_sale_id, product_id, customer_id, quantity, unit_price, total,
                                     currency, principal_id, idempotency_key, request_hash, order_id)
        VALUES (p_id, p_sale, p_product, p_customer, p_quantity, p_unit_price, p_total, p_currency,
                p_principal, p_key, p_hash, p_order)
        RETURNING *;
END
$$;
