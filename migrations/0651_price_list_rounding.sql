-- A price list may round taxes its own way (docs/taxes.md#rounding-modes): a quote priced from it takes
-- its ROUNDING_MODE and TAX_CALCULATION instead of the settings'. NULL: the settings'.
ALTER TABLE price_lists
    ADD COLUMN rounding_mode text CHECK (rounding_mode IN ('HALF_UP', 'HALF_EVEN', 'HALF_DOWN')),
    ADD COLUMN tax_calculation text CHECK (tax_calculation IN ('LINE', 'UNIT'));
