-- Installment plans (docs/taxes.md#installments): the ways a card may pay a quote in parts ("taksit"),
-- by the card's BIN prefix (its first 6-8 digits), the quote's currency and a minimum total. Each option
-- is a count of installments, the interest as a percent of the total, and who funds it: the customer
-- (pays total x (1 + rate / 100)), the seller (its commission gains `seller_commission_rate` % of its
-- goods) or the platform (nobody's figures change).
--
-- Written by admins like the rest of the configuration: audited and a webhook event (migrations 0300,
-- 0400). The quote path reads the active plans only for a quote that names a card_bin: no trigger bumps
-- the configuration version, so a plan change costs quotes without a card nothing.
-- Amounts and rates are exact decimal text in `options`, as the API and the audit log show them.

CREATE TABLE installment_plans (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    bin_prefixes text[] NOT NULL CHECK (cardinality(bin_prefixes) >= 1),
    currency     char(3) NOT NULL,
    min_total    numeric(20, 4) NOT NULL CHECK (min_total >= 0),
    options      jsonb NOT NULL CHECK (jsonb_typeof(options) = 'array' AND jsonb_array_length(options) >= 1),
    is_active    boolean NOT NULL DEFAULT true,
    created_by   text NOT NULL,
    updated_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX installment_plans_list_idx ON installment_plans (created_at, id);
-- A quote with a card_bin reads the active plans of its currency.
CREATE INDEX installment_plans_currency_idx ON installment_plans (currency) WHERE is_active;

CREATE TRIGGER installment_plans_webhook AFTER INSERT OR UPDATE OR DELETE ON installment_plans
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('installment_plan');
CREATE TRIGGER installment_plans_audit AFTER INSERT OR UPDATE OR DELETE ON installment_plans
    FOR EACH ROW EXECUTE FUNCTION audit_row('installment_plan', 'id');
