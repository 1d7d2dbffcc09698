-- Sellers paid in their own currency (docs/currencies.md#sellers-paid-in-their-own-currency).
--
-- `payout_currency` on the terms (NULL: paid in the ledger's currency, as before). With it, a run pays
-- each currency of the seller's ledger in a payout of its own, converted at the rate in force at the
-- run's as_of: the payout keeps `amount` in the ledger's `currency` (what the ledger is debited, exactly)
-- and shows `paid_amount` in `paid_currency` with the `rate` (exact text) and the stored rate it is of.
-- A payout that converts nothing leaves the four NULL.

ALTER TABLE payout_terms ADD COLUMN payout_currency char(3) CHECK (payout_currency ~ '^[A-Z]{3}$');

ALTER TABLE payouts
    ADD COLUMN paid_amount   text CHECK (paid_amount::numeric >= 0),
    ADD COLUMN paid_currency char(3),
    ADD COLUMN rate          text CHECK (rate::numeric > 0),
    ADD COLUMN rate_id       uuid,
    ADD CONSTRAINT payouts_converted_whole
        CHECK ((paid_amount IS NULL) = (paid_currency IS NULL) AND (paid_amount IS NULL) = (rate IS NULL));

-- One live payout per seller, cycle and ledger currency (a seller paid in its own currency is paid each
-- currency it sold in).
DROP INDEX payouts_once_per_cycle;
CREATE UNIQUE INDEX payouts_once_per_cycle ON payouts (seller_id, cycle, currency) WHERE status <> 'failed';
