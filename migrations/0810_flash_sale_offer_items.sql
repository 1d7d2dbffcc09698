-- Flash-sale items for one offer (docs/offers.md#price-lists-and-flash-sales): an item may name `offer_id`
-- (an active offer of the item's product) and then sells only that offer, its units allocated from the
-- OFFER's stock and given back to it; an item without one sells the product's own (default) offer, from the
-- product's stock, as before. Items stay unique per (sale, product, offer), the default offer (NULL) counting
-- as one offer: the primary key, which cannot hold a NULL, becomes a unique constraint whose NULLs are not
-- distinct. The ledger names the item's offer too (NULL for a default item's units, as every row so far).
ALTER TABLE flash_purchases DROP CONSTRAINT flash_purchases_flash_sale_id_product_id_fkey;
ALTER TABLE flash_sale_items ADD COLUMN offer_id uuid REFERENCES offers (id);
ALTER TABLE flash_sale_items DROP CONSTRAINT flash_sale_items_pkey;
ALTER TABLE flash_sale_items
    ADD CONSTRAINT flash_sale_items_item_key UNIQUE NULLS NOT DISTINCT (flash_sale_id, product_id, offer_id);
ALTER TABLE flash_purchases ADD COLUMN offer_id uuid;
-- MATCH SIMPLE: a row with offer_id NULL (a default item's) is checked against its sale only (the column's
-- own reference); the purchase function writes a row only for an item it found and updated, as before.
ALTER TABLE flash_purchases
    ADD CONSTRAINT flash_purchases_item_fk FOREIGN KEY (flash_sale_id, product_id, offer_id)
        REFERENCES flash_sale_items (flash_sale_id, product_id, offer_id);

-- migrations/0036's function for one offer's item (p_offer NULL: the default item). Every check and the
-- customer's units are per (sale, product, offer).
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
    p_hold text,
    p_offer uuid
) RETURNS SETOF flash_purchases
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_limit integer;
    v_owned bigint;
BEGIN
    UPDATE flash_sale_items SET sold = sold + p_quantity
     WHERE flash_sale_id = p_sale AND product_id = p_product AND offer_id IS NOT DISTINCT FROM p_offer
       AND returned_stock IS NULL AND sold + p_quantity <= allocated_stock
    RETURNING per_user_limit INTO v_limit;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM flash_sale_items
                    WHERE flash_sale_id = p_sale AND product_id = p_product AND offer_id IS NOT DISTINCT FROM p_offer
                      AND returned_stock IS NULL) THEN
            RAISE EXCEPTION 'SOLD_OUT' USING ERRCODE = 'QF001';
        END IF;
        RAISE EXCEPTION 'SALE_NOT_ACTIVE' USING ERRCODE = 'QF002';
    END IF;
    IF p_hold IS NOT NULL AND EXISTS (SELECT 1 FROM flash_hold_voids WHERE flash_sale_id = p_sale AND hold = p_hold) THEN
        RAISE EXCEPTION 'HOLD_VOIDED' USING ERRCODE = 'QF004';
    END IF;
    SELECT coalesce(sum(quantity), 0) INTO v_owned FROM flash_purchases
     WHERE flash_sale_id = p_sale AND product_id = p_product AND customer_id = p_customer
       AND offer_id IS NOT DISTINCT FROM p_offer;
    IF v_owned + p_quantity > v_limit THEN
        RAISE EXCEPTION 'PURCHASE_LIMIT_EXCEEDED' USING ERRCODE = 'QF003';
    END IF;
    RETURN QUERY
        INSERT INTO flash_purchases (id, flash_sale_id, product_id, customer_id, quantity, unit_price, total,
                                     currency, principal_id, idempotency_key, request_hash, order_id, hold, offer_id)
        VALUES (p_id, p_sale, p_product, p_customer, p_quantity, p_unit_price, p_total, p_currency,
                p_principal, p_key, p_hash, p_order, p_hold, p_offer)
        RETURNING *;
END
$$;

-- The thirteen-argument one (processes of the previous release, during a rolling upgrade) buys the
-- default item only: its UPDATE by (sale, product) alone would now also match an offer's item.
CREATE OR REPLACE FUNCTION flash_record_purchase(
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
LANGUAGE sql VOLATILE AS $$
    SELECT * FROM flash_record_purchase(p_id, p_sale, p_product, p_customer, p_quantity, p_unit_price, p_total,
                                        p_currency, p_principal, p_key, p_hash, p_order, p_hold, NULL::uuid)
$$;

-- flash_sale.sold_out names the item's offer when it has one (a default item's event reads as before).
CREATE OR REPLACE FUNCTION webhook_flash_sold_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.offer_id IS NULL THEN
        PERFORM webhook_emit('flash_sale.sold_out', json_build_object(
            'flash_sale_id', NEW.flash_sale_id,
            'name', (SELECT name FROM flash_sales WHERE id = NEW.flash_sale_id),
            'product_id', NEW.product_id,
            'allocated_stock', NEW.allocated_stock,
            'sold', NEW.sold)::text);
    ELSE
        PERFORM webhook_emit('flash_sale.sold_out', json_build_object(
            'flash_sale_id', NEW.flash_sale_id,
            'name', (SELECT name FROM flash_sales WHERE id = NEW.flash_sale_id),
            'product_id', NEW.product_id,
            'offer_id', NEW.offer_id,
            'allocated_stock', NEW.allocated_stock,
            'sold', NEW.sold)::text);
    END IF;
    RETURN NULL;
END $$;
