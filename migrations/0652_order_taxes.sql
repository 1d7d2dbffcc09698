-- Orders keep what docs/taxes.md adds to a quote: each line's tax components (`taxes`: the line's
-- [{code, rate, base, amount}], its `tax_exemption` and, for an exempt tax-inclusive line, `tax_exempted`),
-- and the order's terms (`tax_terms`: rounding, tax_exemption, customer_tax_id, tax_exempted, installment).
-- NULL for every order whose quote used none of them. Amounts are exact decimal text.
ALTER TABLE order_lines ADD COLUMN taxes jsonb CHECK (jsonb_typeof(taxes) = 'object');
ALTER TABLE orders ADD COLUMN tax_terms jsonb CHECK (jsonb_typeof(tax_terms) = 'object');
