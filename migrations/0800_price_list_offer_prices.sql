-- Price-list entries for one offer (docs/offers.md#price-lists-and-flash-sales): an entry may name
-- `offer_id`, and then prices only the lines sold from that offer (an offer of the entry's product);
-- an entry without one prices the product's own (default) offer, as before. Entries stay unique per
-- (list, product, offer, min_quantity), the default offer (NULL) counting as one offer: the primary
-- key, which cannot hold a NULL, becomes a unique constraint whose NULLs are not distinct.
ALTER TABLE price_list_prices ADD COLUMN offer_id uuid REFERENCES offers (id);
ALTER TABLE price_list_prices DROP CONSTRAINT price_list_prices_pkey;
ALTER TABLE price_list_prices
    ADD CONSTRAINT price_list_prices_entry_key
        UNIQUE NULLS NOT DISTINCT (price_list_id, product_id, offer_id, min_quantity);

-- The audit trail names an offer's entry by its offer too; a default entry's row and id read as before
-- (no offer_id key in its before/after).
CREATE OR REPLACE FUNCTION audit_price_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := current_setting('quote_service.audit_actor', true);
    doc jsonb;
    old_doc jsonb;
    new_doc jsonb;
BEGIN
    IF actor IS NULL OR actor = '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_doc := to_jsonb(OLD);
        IF old_doc -> 'offer_id' = 'null'::jsonb THEN
            old_doc := old_doc - 'offer_id';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_doc := to_jsonb(NEW);
        IF new_doc -> 'offer_id' = 'null'::jsonb THEN
            new_doc := new_doc - 'offer_id';
        END IF;
    END IF;
    doc := coalesce(new_doc, old_doc);
    INSERT INTO audit_log (actor, actor_id, action, entity_type, entity_id, before, after, request_id)
    VALUES (actor::jsonb, actor::jsonb ->> 'id',
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END, 'price_list_price',
            (doc ->> 'price_list_id') || '/' || (doc ->> 'product_id') || '/' || (doc ->> 'min_quantity')
                || coalesce('/' || (doc ->> 'offer_id'), ''),
            old_doc,
            new_doc,
            nullif(current_setting('quote_service.audit_request_id', true), ''));
    RETURN NULL;
END;
$$;
