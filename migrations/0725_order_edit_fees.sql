-- An order edit's ledger entry carries what it changed of the seller's named commission fees (docs/commission.md):
-- its lines' and those charged to it once per shipment or order, by name ({"payment_fee": "-1.20"}, exact decimal
-- text; {}: none), so a statement's `fees` add up over the order as placed, its refunds and its edits.
ALTER TABLE order_edit_sellers ADD COLUMN fees jsonb NOT NULL DEFAULT '{}';
