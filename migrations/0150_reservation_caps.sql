-- Caps on what one customer may hold, and holds moved to a refreshed quote (issue 47,
-- docs/reservations.md#how-much-one-customer-may-hold).
--
-- A reserving quote counts its customer's live reservations and the units they hold per product
-- (MAX_ACTIVE_RESERVATIONS, MAX_HELD_UNITS_PER_PRODUCT) under a transaction-scoped advisory lock
-- per customer, so the count and the insert of a new hold are one step per customer. The index
-- answers "this customer's live reservations" without reading anyone else's.
CREATE INDEX reservations_customer_live_idx ON reservations (customer_id, expires_at) WHERE status = 'held';

-- A quote made with `replaces_quote_id` takes over its customer's live hold in the same
-- transaction: the old reservation closes as `replaced`, naming the quote that holds its units now.
ALTER TABLE reservations ADD COLUMN replaced_by uuid;
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('held', 'consumed', 'released', 'expired', 'replaced'));
