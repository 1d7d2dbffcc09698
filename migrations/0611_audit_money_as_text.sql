-- Money in the audit log's documents is written as the API shows it (docs/governance.md#money-in-the-log):
-- a string with its currency's digits ("1445.30", yen "1200", dinars "12.500"), never a JSON number,
-- which a JSON reader takes for a float (1445.3, 10.0). Every other decimal column (a percent, a
-- weight) is a string without padding ("12.5"); whole-number columns (stock, priority) stay numbers.
--
-- One place for every writer: a BEFORE INSERT trigger on audit_log rewrites `before` and `after`,
-- whichever trigger (audit_row, audit_price_row) or route wrote them. The numeric columns are read
-- from the entity's table; which of them are money, and in what currency, is said here per entity.
CREATE FUNCTION audit_money_as_text(p_entity text, p_doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_table regclass := CASE p_entity
        WHEN 'commission_rate' THEN 'commission_rates'::regclass
        WHEN 'coupon' THEN 'coupons'::regclass
        WHEN 'price_list_price' THEN 'price_list_prices'::regclass
        WHEN 'product' THEN 'products'::regclass
        WHEN 'campaign' THEN 'campaigns'::regclass
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
        WHEN 'campaign' THEN '{base_price,turnover}'
        WHEN 'price_list_price' THEN '{amount}'
        WHEN 'commission_rate' THEN CASE WHEN p_doc ->> 'commission_type' = 'FLAT'
                                         THEN '{rate,min_amount,max_amount}' ELSE '{min_amount,max_amount}' END
        WHEN 'coupon' THEN CASE WHEN p_doc ->> 'type' = 'FIXED'
                                THEN '{value,min_subtotal,max_discount}' ELSE '{min_subtotal,max_discount}' END
    END::text[];
    v_currency := btrim(CASE p_entity
        WHEN 'price_list_price' THEN (SELECT currency FROM price_lists WHERE id = (p_doc ->> 'price_list_id')::uuid)
        WHEN 'campaign' THEN (SELECT currency FROM products WHERE id = (p_doc ->> 'product_id')::uuid)
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

CREATE FUNCTION audit_log_money_as_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.before := audit_money_as_text(NEW.entity_type, NEW.before);
    NEW.after := audit_money_as_text(NEW.entity_type, NEW.after);
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_money_as_text BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_money_as_text();
