-- A customer's own flash purchases across sales (GET /api/v1/flash-sales/purchases/me, the
-- store's "Your orders"): those made with "Buy now", newest first. Units bought within an order
-- (order_id set) show with their order instead. Without this index each page would scan the
-- whole ledger, which a flash sale's storm makes large.
CREATE INDEX flash_purchases_own_idx ON flash_purchases (customer_id, created_at DESC, id DESC)
    WHERE order_id IS NULL;
