-- The audit log (docs/governance.md): one row per admin write, appended by the triggers below in
-- the same transaction as the write (a write that rolls back leaves no row). A write is audited
-- when its connection says who is writing (`quote_service.audit_actor`, set by the service for
-- every admin write, quote_service/audit/); the service's own background writes (orders
-- counting coupon uses, repricing) set nothing and are not admin writes.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       jsonb NOT NULL,
    actor_id    text,
    action      text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'approve', 'reject', 'apply')),
    entity_type text NOT NULL,
    entity_id   text,
    before      jsonb,
    after       jsonb,
    request_id  text
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Append-only: no UPDATE or DELETE of a row, whoever asks. TRUNCATE (a privilege the service's
-- role needs for no route; tests empty every table with it) is taken away by REVOKE: see
-- docs/operations.md for the grants that keep the service's role from changing the log.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

-- TG_ARGV[0]: the entity type; TG_ARGV[1]: the key column (id, or code for coupons).
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := current_setting('quote_service.audit_actor', true);
    old_doc jsonb;
    new_doc jsonb;
    act text;
BEGIN
    IF actor IS NULL OR actor = '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN old_doc := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN new_doc := to_jsonb(NEW); END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (old_doc - 'updated_at' - 'updated_by') = (new_doc - 'updated_at' - 'updated_by') THEN
            RETURN NULL;
        END IF;
        act := CASE WHEN (old_doc ->> 'is_active')::boolean AND NOT (new_doc ->> 'is_active')::boolean
                    AND (old_doc - 'is_active' - 'updated_at' - 'updated_by')
                        = (new_doc - 'is_active' - 'updated_at' - 'updated_by')
                    THEN 'delete' ELSE 'update' END;
    ELSE
        act := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'delete' END;
    END IF;
    INSERT INTO audit_log (actor, actor_id, action, entity_type, entity_id, before, after, request_id)
    VALUES (actor::jsonb, actor::jsonb ->> 'id', act, TG_ARGV[0],
            coalesce(new_doc, old_doc) ->> TG_ARGV[1], old_doc, new_doc,
            nullif(current_setting('quote_service.audit_request_id', true), ''));
    RETURN NULL;
END;
$$;

CREATE TRIGGER commission_rates_audit AFTER INSERT OR UPDATE OR DELETE ON commission_rates
    FOR EACH ROW EXECUTE FUNCTION audit_row('commission_rate', 'id');
CREATE TRIGGER pricing_rules_audit AFTER INSERT OR UPDATE OR DELETE ON pricing_rules
    FOR EACH ROW EXECUTE FUNCTION audit_row('pricing_rule', 'id');
CREATE TRIGGER feature_flags_audit AFTER INSERT OR UPDATE OR DELETE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION audit_row('feature_flag', 'id');
CREATE TRIGGER coupons_audit AFTER INSERT OR UPDATE OR DELETE ON coupons
    FOR EACH ROW EXECUTE FUNCTION audit_row('coupon', 'code');
CREATE TRIGGER promotions_audit AFTER INSERT OR UPDATE OR DELETE ON promotions
    FOR EACH ROW EXECUTE FUNCTION audit_row('promotion', 'id');
CREATE TRIGGER price_lists_audit AFTER INSERT OR UPDATE OR DELETE ON price_lists
    FOR EACH ROW EXECUTE FUNCTION audit_row('price_list', 'id');
-- A price list's prices: one row per product price, keyed "<price_list_id>/<product_id>/<min_quantity>".
CREATE FUNCTION audit_price_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := current_setting('quote_service.audit_actor', true);
    doc jsonb;
BEGIN
    IF actor IS NULL OR actor = '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW) THEN
        RETURN NULL;
    END IF;
    doc := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
    INSERT INTO audit_log (actor, actor_id, action, entity_type, entity_id, before, after, request_id)
    VALUES (actor::jsonb, actor::jsonb ->> 'id',
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END, 'price_list_price',
            (doc ->> 'price_list_id') || '/' || (doc ->> 'product_id') || '/' || (doc ->> 'min_quantity'),
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
            nullif(current_setting('quote_service.audit_request_id', true), ''));
    RETURN NULL;
END;
$$;
CREATE TRIGGER price_list_prices_audit AFTER INSERT OR UPDATE OR DELETE ON price_list_prices
    FOR EACH ROW EXECUTE FUNCTION audit_price_row();
