-- The audit log (migration 0400, docs/governance.md) also records admin writes to products, flash
-- sales, campaigns, users, API keys and webhooks. As before, a write is audited only when its
-- connection names its actor (`quote_service.audit_actor`): the service's own writes to these
-- tables (orders taking stock, repricing, campaign hours, flash purchases) set nothing.
--
-- audit_row() gains an optional third argument: a text array of columns never copied into
-- `before` / `after` (secrets: users.password_hash, api_keys.key_hash, webhooks' signing secrets).
-- Whether an UPDATE changed anything is still judged on the whole row less its bookkeeping
-- columns, so a change of a secret alone is recorded, as an update whose documents do not show
-- it. Bookkeeping: updated_at and updated_by as in 0400, and now products.cache_version (bumped
-- by its own trigger with any cached field: it never moves alone, but a deactivation that bumps
-- it is still a 'delete'). The 0400 tables have no cache_version: for them nothing changes.
CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := current_setting('quote_service.audit_actor', true);
    hidden text[] := CASE WHEN TG_NARGS > 2 THEN TG_ARGV[2]::text[] ELSE '{}'::text[] END;
    bookkeeping constant text[] := '{updated_at,updated_by,cache_version}';
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
        IF (old_doc - bookkeeping) = (new_doc - bookkeeping) THEN
            RETURN NULL;
        END IF;
        act := CASE WHEN (old_doc ->> 'is_active')::boolean AND NOT (new_doc ->> 'is_active')::boolean
                    AND (old_doc - bookkeeping - 'is_active') = (new_doc - bookkeeping - 'is_active')
                    THEN 'delete' ELSE 'update' END;
    ELSE
        act := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'delete' END;
    END IF;
    INSERT INTO audit_log (actor, actor_id, action, entity_type, entity_id, before, after, request_id)
    VALUES (actor::jsonb, actor::jsonb ->> 'id', act, TG_ARGV[0],
            coalesce(new_doc, old_doc) ->> TG_ARGV[1], old_doc - hidden, new_doc - hidden,
            nullif(current_setting('quote_service.audit_request_id', true), ''));
    RETURN NULL;
END;
$$;

-- No other column of these tables moves on every use by an admin write: users and API keys
-- keep no last-use time, and campaigns' total_sales, turnover and hours_elapsed (like flash
-- sale items' sold) are written by orders, refunds, purchases and the schedulers, on
-- connections that set no actor.
CREATE TRIGGER products_audit AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION audit_row('product', 'id');
CREATE TRIGGER flash_sales_audit AFTER INSERT OR UPDATE OR DELETE ON flash_sales
    FOR EACH ROW EXECUTE FUNCTION audit_row('flash_sale', 'id');
CREATE TRIGGER campaigns_audit AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION audit_row('campaign', 'id');
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION audit_row('user', 'id', '{password_hash}');
CREATE TRIGGER api_keys_audit AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION audit_row('api_key', 'id', '{key_hash}');
CREATE TRIGGER webhooks_audit AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION audit_row('webhook', 'id', '{secret,previous_secret}');
