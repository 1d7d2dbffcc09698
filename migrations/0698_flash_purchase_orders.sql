-- A flash sale's "Buy now" purchase is an order (docs/flash-sales.md#a-purchase-is-an-order): priced as a
-- one-line quote at the flash price, written in the purchase's own transaction, so tax, commission, the
-- seller's statement and ledger, and `order.created` include it as any order. The two point at each other:
-- the purchase's `order_id` (migration 0007, until now set only for units bought by ordering a quote) and
-- the order's `flash_purchase_id` with its sale. NULL for every other order, and for purchases made before.
--
-- The order is written first and the ledger row last, so the item row's lock (every ledger write of the
-- product queues on it) is held for the ledger row's statement only: hence the purchase's key is checked
-- at commit (DEFERRABLE), when its row exists.
ALTER TABLE orders
    ADD COLUMN flash_sale_id     uuid,
    ADD COLUMN flash_purchase_id uuid,
    ADD CONSTRAINT orders_flash_purchase_fk FOREIGN KEY (flash_purchase_id) REFERENCES flash_purchases (id)
        DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT orders_flash_purchase_sale CHECK ((flash_purchase_id IS NULL) = (flash_sale_id IS NULL));

-- One order per purchase; a purchase's reads find its order here.
CREATE UNIQUE INDEX orders_flash_purchase_idx ON orders (flash_purchase_id) WHERE flash_purchase_id IS NOT NULL;
