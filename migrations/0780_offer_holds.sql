-- Stock reservations of offers' units (docs/reservations.md, docs/offers.md#stock): a reserving quote
-- holds the units of each line sold from another seller's offer as it holds a product's, one LIVE row
-- per (quote, offer), deleted when its reservation is consumed by the order, released, replaced or
-- expired. Units held of an offer at instant t = sum(quantity) of its rows with expires_at > t; every
-- writer that takes an offer's units (a reserving quote, an order, an order edit) locks the offers' rows
-- in id order, after the products' (FOR UPDATE), and reads these rows in a LATER statement.
-- `reservations.lines` lists these units too, each entry with its `offer_id`.
CREATE TABLE reservation_offer_holds (
    quote_id   uuid NOT NULL REFERENCES reservations (quote_id) ON DELETE CASCADE,
    offer_id   uuid NOT NULL REFERENCES offers (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (quote_id, offer_id)
);
CREATE INDEX reservation_offer_holds_offer_idx ON reservation_offer_holds (offer_id, expires_at) INCLUDE (quantity);
