-- Real markets (docs/markets.md): tax-inclusive prices, commission rates in every currency.
--
-- A product or a price list whose `prices_include_tax` is true holds gross prices: a line priced
-- from it contains its tax (round(gross x rate / (100 + rate))) instead of having it added. An
-- order line keeps the mode it was charged in, so refunds give back gross lines exactly as charged
-- and the reports take the contained tax out of revenue (goods after discounts, without tax).

ALTER TABLE products ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;
ALTER TABLE price_lists ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;

-- The product cache holds what a quote reads of a product: the mode is part of it now.
CREATE OR REPLACE FUNCTION queue_product_invalidation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.currency, NEW.current_price, NEW.min_price, NEW.category_id, NEW.seller_id, NEW.is_active,
            NEW.prices_include_tax)
           IS NOT DISTINCT FROM
           (OLD.currency, OLD.current_price, OLD.min_price, OLD.category_id, OLD.seller_id, OLD.is_active,
            OLD.prices_include_tax) THEN
            RETURN NEW;  -- stock, name, tags...: nothing the quote path caches
        END IF;
        NEW.cache_version := OLD.cache_version + 1;
    END IF;
    INSERT INTO product_cache_outbox (product_id, product_version) VALUES (NEW.id, NEW.cache_version);
    RETURN NEW;
END $$;

-- The line's mode as charged; its `tax` is then the tax it contains (not added to the total).
ALTER TABLE order_lines ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;
-- The tax contained in the order's tax-inclusive lines (tax_amount is the tax added to the others).
ALTER TABLE orders ADD COLUMN tax_included numeric(20, 4) NOT NULL DEFAULT 0;
-- A refund line copies its order line's mode; `tax_included` sums the contained tax given back
-- (total_refunded = amount - discount + (tax - tax_included) + fees).
ALTER TABLE refund_lines ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;
ALTER TABLE refunds ADD COLUMN tax_included numeric(20, 4) NOT NULL DEFAULT 0;

-- A PERCENTAGE rate without a currency applies in every currency; amounts (FLAT, TIERED, bounds)
-- still need one (checked by the API, and here).
ALTER TABLE commission_rates ALTER COLUMN currency DROP NOT NULL;
ALTER TABLE commission_rates ADD CONSTRAINT commission_rates_amounts_have_a_currency CHECK (
    currency IS NOT NULL
    OR (commission_type = 'PERCENTAGE' AND min_amount IS NULL AND max_amount IS NULL)
);
