-- An order edit writes the order's shipments anew; a seller whose shipment fee a refund gave back keeps it
-- given back (the edit waives the fee: 0.00), so the new row carries that refund's id in `refund_id`. That
-- refund gave back the fee of the row it found, not of this one: `refund_carried` marks such a row, and what a
-- refund gave back (its statement and ledger entry, its `shipments`, a seller's view of it) is read from the
-- rows it did give back (`NOT refund_carried`) only — each once, however many edits followed. Before this
-- column, a refund's entry in the seller's ledger was counted once more with every later edit
-- (docs/orders-and-refunds.md#edits-and-exchanges).
ALTER TABLE order_shipments ADD COLUMN refund_carried boolean NOT NULL DEFAULT false;

-- The rows edits wrote so far: a row whose refund an earlier row of its order and seller already names.
UPDATE order_shipments sh SET refund_carried = true
 WHERE sh.refund_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM order_shipments first
               WHERE first.order_id = sh.order_id AND first.seller_id IS NOT DISTINCT FROM sh.seller_id
                 AND first.refund_id = sh.refund_id AND first.position < sh.position);
