-- A change request whose apply fails for a reason that does not pass (the replayed write answered 500:
-- an error of the service, not a refusal nor a store that did not answer) ends `failed`, once, with
-- the reason in `result` (docs/governance.md#change-requests-four-eyes): it is not tried again.
ALTER TABLE change_requests
    DROP CONSTRAINT change_requests_status_check,
    ADD CONSTRAINT change_requests_status_check
        CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'conflicted', 'failed'));

-- Money in the audit log is written as the API shows it (migration 0611) for the types audited since
-- too: an offer's prices (in its product's currency), an installment plan's `min_total`, a promotion's
-- budget. A revert reads them back as numbers either way (docs/governance.md#revert).
CREATE OR REPLACE FUNCTION audit_money_as_text(p_entity text, p_doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_table regclass := CASE p_entity
        WHEN 'commission_rate' THEN 'commission_rates'::regclass
        WHEN 'coupon' THEN 'coupons'::regclass
        WHEN 'price_list_price' THEN 'price_list_prices'::regclass
        WHEN 'product' THEN 'products'::regclass
        WHEN 'campaign' THEN 'campaigns'::regclass
        WHEN 'offer' THEN 'offers'::regclass
        WHEN 'installment_plan' THEN 'installment_plans'::regclass
        WHEN 'promotion' THEN 'promotions'::regclass
    END;
    v_money text[];
    v_currency text;
    v_column text;
    v_value numeric;
BEGIN
    IF v_table IS NULL OR jsonb_typeof(p_doc) IS DISTINCT FROM 'object' THEN
        RETURN p_doc;
    END IF;
    -- A FLAT rate and a FIXED coupon's value are amounts; a PERCENTAGE one's is a percent.
    v_money := CASE p_entity
        WHEN 'product' THEN '{base_price,current_price,min_price,cost_price}'
        WHEN 'offer' THEN '{base_price,current_price,min_price,cost_price}'
        WHEN 'campaign' THEN '{base_price,turnover}'
        WHEN 'price_list_price' THEN '{amount}'
        WHEN 'installment_plan' THEN '{min_total}'
        WHEN 'promotion' THEN '{budget_amount,budget_used}'
        WHEN 'commission_rate' THEN CASE WHEN p_doc ->> 'commission_type' = 'FLAT'
                                         THEN '{rate,min_amount,max_amount}' ELSE '{min_amount,max_amount}' END
        WHEN 'coupon' THEN CASE WHEN p_doc ->> 'type' = 'FIXED'
                                THEN '{value,min_subtotal,max_discount}' ELSE '{min_subtotal,max_discount}' END
    END::text[];
    v_currency := btrim(CASE p_entity
        WHEN 'price_list_price' THEN (SELECT currency FROM price_lists WHERE id = (p_doc ->> 'price_list_id')::uuid)
        WHEN 'campaign' THEN (SELECT currency FROM products WHERE id = (p_doc ->> 'product_id')::uuid)
        WHEN 'offer' THEN (SELECT currency FROM products WHERE id = (p_doc ->> 'product_id')::uuid)
        WHEN 'promotion' THEN p_doc ->> 'budget_currency'
        ELSE p_doc ->> 'currency'
    END);
    FOR v_column IN
        SELECT attname FROM pg_attribute
        WHERE attrelid = v_table AND atttypid = 'numeric'::regtype AND attnum > 0 AND NOT attisdropped
    LOOP
        IF jsonb_typeof(p_doc -> v_column) = 'number' THEN
            v_value := (p_doc ->> v_column)::numeric;
            -- Money without a currency (a currency-less rate's bounds cannot have one) shows as a plain decimal.
            p_doc := jsonb_set(p_doc, ARRAY[v_column], to_jsonb(
                CASE WHEN v_column = ANY (v_money) AND v_currency IS NOT NULL
                     THEN webhook_money(v_value, v_currency)
                     ELSE trim_scale(v_value)::text END));
        END IF;
    END LOOP;
    RETURN p_doc;
END;
$$;
