-- Stacking control (docs/promotions.md#reduced-lines): how a coupon or promotion treats a line
-- already reduced below its product's own price (by a price list, a price rule, a flash price or an
-- earlier discount): `stack` (as before), `skip` or `best_of`. Configuration: the triggers of 0009
-- and 0661 compare whole rows, so a change of it moves the configuration version.
ALTER TABLE coupons ADD COLUMN on_reduced_lines text NOT NULL DEFAULT 'stack'
    CHECK (on_reduced_lines IN ('stack', 'skip', 'best_of'));
ALTER TABLE promotions ADD COLUMN on_reduced_lines text NOT NULL DEFAULT 'stack'
    CHECK (on_reduced_lines IN ('stack', 'skip', 'best_of'));
