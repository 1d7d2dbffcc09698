-- Names that say what a column holds (docs/orders-and-refunds.md#the-priced-record).
--
-- `refund_lines.taxes` held four things under one name: what the refund line gave back of each tax component
-- ("tax:KDV"), of the tax an exempt tax-inclusive price held ("exempted"), of the line's installment
-- commission ("installment_commission") and of each named commission fee ("fee:payment_fee"). Each gets a
-- column of its own, as the order line keeps them:
--   tax_components          {"KDV": "24.00"}: the tax given back by component (NULL: the line kept none)
--   tax_exempted            the exempt tax-inclusive line's held tax given back (NULL: not such a line)
--   installment_commission  the installment commission reversed (NULL: the line had none)
--   commission_fees         {"payment_fee": "2.36"}: each named fee reversed (NULL: the line had none)
--
-- `order_lines.taxes` held the line's tax components, exemption and tax source, and its share of a
-- seller-funded installment option's commission, which is no tax: it moves to `installment_commission`.
ALTER TABLE refund_lines
    ADD COLUMN tax_components jsonb CHECK (jsonb_typeof(tax_components) = 'object'),
    ADD COLUMN tax_exempted numeric(20, 4),
    ADD COLUMN installment_commission numeric(20, 4),
    ADD COLUMN commission_fees jsonb CHECK (jsonb_typeof(commission_fees) = 'object');

UPDATE refund_lines rl SET
    tax_components = (SELECT jsonb_object_agg(substr(p.key, 5), p.value) FROM jsonb_each(rl.taxes) p
                      WHERE p.key LIKE 'tax:%'),
    tax_exempted = (rl.taxes ->> 'exempted')::numeric,
    installment_commission = (rl.taxes ->> 'installment_commission')::numeric,
    commission_fees = (SELECT jsonb_object_agg(substr(p.key, 5), p.value) FROM jsonb_each(rl.taxes) p
                       WHERE p.key LIKE 'fee:%')
 WHERE rl.taxes IS NOT NULL;

ALTER TABLE refund_lines DROP COLUMN taxes;

ALTER TABLE order_lines ADD COLUMN installment_commission numeric(20, 4);

UPDATE order_lines SET
    installment_commission = (taxes ->> 'installment_commission')::numeric,
    taxes = NULLIF(taxes - 'installment_commission', '{}'::jsonb)
 WHERE taxes ? 'installment_commission';
