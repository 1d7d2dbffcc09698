-- Who funds a discount, and the tax on commission (docs/orders-and-refunds.md#who-funds-a-discount).

-- A promotion's or coupon's discount is paid by the seller (as before) or by the platform.
ALTER TABLE promotions ADD COLUMN funded_by text NOT NULL DEFAULT 'seller' CHECK (funded_by IN ('seller', 'platform'));
ALTER TABLE coupons ADD COLUMN funded_by text NOT NULL DEFAULT 'seller' CHECK (funded_by IN ('seller', 'platform'));

-- Per order line: what the platform pays the seller for its platform-funded discounts, and the tax
-- on the line's commission (COMMISSION_TAX_RATE when the order was placed). NULL: placed before.
ALTER TABLE order_lines
    ADD COLUMN platform_contribution numeric(20, 4),
    ADD COLUMN commission_tax        numeric(20, 4);

-- Per refund line: the share of both that the refund reversed. NULL: refunded before.
ALTER TABLE refund_lines
    ADD COLUMN platform_contribution numeric(20, 4),
    ADD COLUMN commission_tax        numeric(20, 4);
