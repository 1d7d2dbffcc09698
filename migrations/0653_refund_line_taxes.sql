-- A refund line keeps what it gave back of each tax component of its order line (`"tax:KDV": "24.00"`)
-- and, for an exempt tax-inclusive line, of the tax its price held and the customer never paid
-- (`"exempted"`), as exact decimal text (docs/taxes.md#refunds). NULL where the order line has none.
ALTER TABLE refund_lines ADD COLUMN taxes jsonb CHECK (jsonb_typeof(taxes) = 'object');
