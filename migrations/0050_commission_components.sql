-- Commission components (docs/pricing.md "Commission rates"): each rate feeds one component,
-- `category`, `seller` or `logistics`, and the three components add up, as in the Go service.
--
-- Before this migration a quote picked ONE winning rate per item among every rate without a
-- logistics provider (a seller rate and a category rate never both applied), and a rate with a
-- logistics provider was charged per quote on the delivery fee. The data migration keeps that
-- meaning for every existing rate:
--   - a rate that names a logistics provider  -> `logistics` (charged exactly as before);
--   - every other rate                        -> `category`: the per-item rates keep competing
--     with each other under the same precedence (priority, specificity, effective_from,
--     created_at), so each item keeps the same winning rate and the same commission, and the
--     default rate still applies only when none of them matches.
-- What changes for old rates: a winning rate that names a seller used to be reported under
-- `seller_commission`; it is now reported under `category_commission` (the total is the same).
-- An admin who wants the Go behaviour, a seller's fee ON TOP of the category commission, sets
-- `component: "seller"` on that rate (PATCH). Orders already placed keep their recorded parts.
ALTER TABLE commission_rates ADD COLUMN component text;

UPDATE commission_rates
SET component = CASE WHEN logistics_provider IS NOT NULL THEN 'logistics' ELSE 'category' END;

ALTER TABLE commission_rates
    ALTER COLUMN component SET NOT NULL,
    ADD CONSTRAINT commission_rates_component CHECK (component IN ('category', 'seller', 'logistics')),
    -- A logistics rate is charged per quote for one provider; the per-item components name none.
    ADD CONSTRAINT commission_rates_component_provider
        CHECK ((component = 'logistics') = (logistics_provider IS NOT NULL));

-- A row written without a component (plain SQL, an older writer) gets the one the API derives
-- when `component` is omitted: logistics when it names a provider, else seller when it names a
-- seller and no category, else category.
CREATE FUNCTION commission_rate_component() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.component IS NULL THEN
        NEW.component := CASE
            WHEN NEW.logistics_provider IS NOT NULL THEN 'logistics'
            WHEN NEW.seller_id IS NOT NULL AND NEW.category_id IS NULL THEN 'seller'
            ELSE 'category'
        END;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER commission_rates_component
    BEFORE INSERT OR UPDATE ON commission_rates
    FOR EACH ROW EXECUTE FUNCTION commission_rate_component();
