-- What a what-if simulation needs to price a logged quote's basket again (docs/governance.md#what-if-simulations):
-- [the quote request as received, the tier, segment, customer group and forced variant it was priced at].
-- NULL: logged before this column (a simulation skips and counts those quotes).
ALTER TABLE quote_log ADD COLUMN request jsonb;
