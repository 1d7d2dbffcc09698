-- Seller payouts (docs/payouts.md): the terms a seller is paid on, the runs that pay, the payouts and the
-- ledger shares each one pays. The balance itself is not stored: it is worked out from the ledger (the
-- seller's orders and refunds, docs/orders-and-refunds.md#seller-statements) less what payouts took.
--
-- Amounts an admin sets or a payout shows are kept as exact decimal text, so the audit log's before/after
-- show them as the API does, never as floats (docs/governance.md#money-in-the-log).

-- One row per seller, and one platform default (seller_id NULL) for every seller without its own.
CREATE TABLE payout_terms (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seller_id       text CHECK (length(seller_id) BETWEEN 1 AND 64),
    cycle           text NOT NULL CHECK (cycle IN ('weekly', 'monthly')),
    hold_days       integer NOT NULL CHECK (hold_days BETWEEN 0 AND 365),
    reserve_percent text NOT NULL CHECK (reserve_percent::numeric BETWEEN 0 AND 100),
    reserve_days    integer NOT NULL CHECK (reserve_days BETWEEN 0 AND 365),
    min_payout      text NOT NULL CHECK (min_payout::numeric >= 0),
    currency        char(3) NOT NULL,
    created_by      text NOT NULL,
    updated_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- '' is no seller id (they are 1 to 64 characters): the platform default is unique too.
CREATE UNIQUE INDEX payout_terms_one_per_seller ON payout_terms ((COALESCE(seller_id, '')));
CREATE INDEX payout_terms_list_idx ON payout_terms (created_at, id);

CREATE TRIGGER payout_terms_audit AFTER INSERT OR UPDATE OR DELETE ON payout_terms
    FOR EACH ROW EXECUTE FUNCTION audit_row('payout_terms', 'id');

-- Every run asked for (POST /payouts/run, `quote-service payouts run`): a run's as_of is never before the
-- latest one's.
CREATE TABLE payout_runs (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    as_of      timestamptz NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX payout_runs_as_of_idx ON payout_runs (as_of);

-- `cycle` is the ISO week ('2026-W48') or the calendar month ('2026-11') of the run's as_of in UTC, by the
-- seller's terms. A seller is paid at most once a cycle: a failed payout does not count (its entries are
-- available again, and a run of the same cycle may pay them).
CREATE TABLE payouts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id         uuid NOT NULL REFERENCES payout_runs (id),
    seller_id      text NOT NULL CHECK (length(seller_id) BETWEEN 1 AND 64),
    cycle          text NOT NULL,
    currency       char(3) NOT NULL,
    amount         text NOT NULL CHECK (amount::numeric > 0),
    period_from    timestamptz NOT NULL,
    period_to      timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed')),
    reference      text,
    failure_reason text,
    created_by     text NOT NULL,
    updated_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX payouts_once_per_cycle ON payouts (seller_id, cycle) WHERE status <> 'failed';
CREATE INDEX payouts_list_idx ON payouts (created_at, id);
CREATE INDEX payouts_seller_idx ON payouts (seller_id, created_at, id);

CREATE TRIGGER payouts_audit AFTER INSERT OR UPDATE OR DELETE ON payouts
    FOR EACH ROW EXECUTE FUNCTION audit_row('payout', 'id');

-- What a payout pays: a share of one ledger entry of its seller (`released`: the entry's payout less its
-- reserve, or all of it once past the reserve; `reserve`: the rest, once past the reserve). `paid` is
-- false once the payout failed: the share is unpaid again. No share is paid by two live payouts.
CREATE TABLE payout_items (
    payout_id  uuid NOT NULL REFERENCES payouts (id),
    seller_id  text NOT NULL,
    entry_kind text NOT NULL,
    entry_id   uuid NOT NULL,
    share      text NOT NULL CHECK (share IN ('released', 'reserve')),
    entry_at   timestamptz NOT NULL,
    amount     numeric NOT NULL,
    paid       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (payout_id, entry_kind, entry_id, share)
);
CREATE UNIQUE INDEX payout_items_paid_once ON payout_items (seller_id, entry_kind, entry_id, share) WHERE paid;
