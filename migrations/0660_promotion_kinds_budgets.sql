-- Promotions merchandisers ask for (docs/promotions.md): bundles, spend tiers, gifts; a promotion
-- group (only the best of a group applies); a money budget; orders per customer.
--
-- `budget_used` is the discount orders took from the promotion (their promotion_redemptions'
-- amounts), changed only under the promotion's row lock by an order (up) and by a cancel or refund
-- (down), so it never passes `budget_amount`. Quotes must stop offering a promotion whose budget
-- cannot cover it: a change of `budget_used` bumps the configuration version (only promotions with
-- a budget ever change it), but it is no configuration change for webhooks.

ALTER TABLE promotions DROP CONSTRAINT promotions_kind_check;
ALTER TABLE promotions ADD CONSTRAINT promotions_kind_check CHECK (kind IN (
    'PERCENT_OFF', 'AMOUNT_OFF', 'BUY_X_GET_Y', 'FREE_DELIVERY', 'FIXED_PRICE_BUNDLE', 'SPEND_TIERS', 'GIFT'));
ALTER TABLE promotions ADD COLUMN promotion_group text CHECK (length(promotion_group) BETWEEN 1 AND 64);
ALTER TABLE promotions ADD COLUMN budget_amount numeric(20, 4) CHECK (budget_amount > 0);
ALTER TABLE promotions ADD COLUMN budget_currency char(3);
ALTER TABLE promotions ADD COLUMN budget_used numeric(20, 4) NOT NULL DEFAULT 0;
ALTER TABLE promotions ADD COLUMN per_customer_limit integer CHECK (per_customer_limit >= 1);
ALTER TABLE promotions ADD CONSTRAINT promotions_budget CHECK (
    (budget_amount IS NULL) = (budget_currency IS NULL)
    AND budget_used >= 0
    AND (budget_amount IS NULL OR budget_used <= budget_amount));

CREATE INDEX promotion_redemptions_customer_idx ON promotion_redemptions (promotion_id, customer_id);

DROP TRIGGER promotions_webhook_upd ON promotions;
CREATE TRIGGER promotions_webhook_upd AFTER UPDATE ON promotions FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'budget_used' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'budget_used' - 'updated_at'))
    EXECUTE FUNCTION webhook_config_changed('promotion');
