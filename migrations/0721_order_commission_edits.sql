-- An order edit's commission details are marked with the edit that wrote them, as its lines and shipments are
-- (0720): a seller's statement counts the order as it was placed (its details with no edit) and each edit as an
-- entry of its own, so a fee charged once per shipment or order (0710) is counted with the order, never again
-- with an edit that re-priced the basket under the order's terms (docs/orders-and-refunds.md#edits-and-exchanges).
ALTER TABLE order_commissions ADD COLUMN edit_id uuid;
