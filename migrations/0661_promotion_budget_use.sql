-- Promotion budgets at orders (docs/promotions.md#budgets).
--
-- `budget_used` counts every order's discount from the promotion (its promotion_redemptions'
-- amounts less what refunds and cancels gave back), with or without a budget, so a budget set
-- later counts the discounts already given. It changes only under the promotion's row lock. A
-- change of it moves the configuration version only when the promotion has a budget (quotes must
-- then see what is left); a budget lowered under what was used leaves nothing to spend, so the
-- CHECK no longer ties the two.

ALTER TABLE promotions DROP CONSTRAINT promotions_budget;
ALTER TABLE promotions ADD CONSTRAINT promotions_budget CHECK (
    (budget_amount IS NULL) = (budget_currency IS NULL) AND budget_used >= 0);

-- What refunds gave back of this order's discount from the promotion so far (a cancel gives back
-- the rest: amount - returned).
ALTER TABLE promotion_redemptions ADD COLUMN returned numeric(20, 4) NOT NULL DEFAULT 0;

DROP TRIGGER promotions_config_version_upd ON promotions;
CREATE TRIGGER promotions_config_version_upd AFTER UPDATE ON promotions FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'budget_used' - 'updated_at')
              IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'budget_used' - 'updated_at')
          OR (OLD.times_used >= OLD.usage_limit) IS DISTINCT FROM (NEW.times_used >= NEW.usage_limit)
          OR (NEW.budget_amount IS NOT NULL AND OLD.budget_used IS DISTINCT FROM NEW.budget_used))
    EXECUTE FUNCTION bump_config_version();
