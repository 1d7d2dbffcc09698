-- A GIFT promotion's line (docs/promotions.md#gifts): an order keeps it with price_source 'gift'
-- (0.00, no tax, no commission); the order takes its units from stock like a catalog line's.
ALTER TABLE order_lines DROP CONSTRAINT order_lines_price_source_check;
ALTER TABLE order_lines
    ADD CONSTRAINT order_lines_price_source_check
        CHECK (price_source IN ('catalog', 'request', 'flash_sale', 'price_list', 'gift'));
