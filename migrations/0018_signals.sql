-- Market signals: facts worth a human's (or a decision's) attention, raised as data arrives.
--
-- One live signal per subject and type: a signal is live while `open` or `acknowledged`
-- (acknowledging says "seen", not "gone"); it is `resolved` when its condition clears, and only
-- then can the same subject raise that type again. The subject is the product; signals about
-- no product (experiments) name their subject in `details.experiment_id`.

CREATE TABLE signals (
    id              uuid PRIMARY KEY,
    type            text NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
    product_id      uuid REFERENCES products (id),
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Last time the condition was seen again (details refreshed); created_at never moves.
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    CONSTRAINT signals_acknowledged CHECK ((status = 'open') = (acknowledged_at IS NULL) OR status = 'resolved'),
    CONSTRAINT signals_resolved CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

-- The one-live-signal rule (raise_signal's ON CONFLICT target must repeat this expression).
CREATE UNIQUE INDEX signals_one_live ON signals (type, (coalesce(product_id::text, details ->> 'experiment_id', '')))
    WHERE status <> 'resolved';
-- GET /signals: newest first, optionally by type, product, status.
CREATE INDEX signals_list_idx ON signals (created_at DESC, id DESC);
CREATE INDEX signals_product_idx ON signals (product_id, created_at DESC, id DESC);
