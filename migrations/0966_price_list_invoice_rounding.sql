-- A price list may round its quotes' taxes once per invoice (docs/taxes.md#rounding-modes): INVOICE beside
-- LINE and UNIT.
ALTER TABLE price_lists DROP CONSTRAINT IF EXISTS price_lists_tax_calculation_check;
ALTER TABLE price_lists
    ADD CONSTRAINT price_lists_tax_calculation_check CHECK (tax_calculation IN ('LINE', 'UNIT', 'INVOICE'));
