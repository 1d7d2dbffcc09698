-- Re-enabling a subscription leaves no event behind (docs/webhooks.md#a-receiver-that-was-down).
--
-- `webhook_emit` makes deliveries for the subscriptions active when it runs; an inactive one that
-- wants the type gets its events from a replay. A transaction that wrote such an event before
-- the re-enable but committed after the replay's snapshot was lost to both: its event had no
-- delivery, and the replay could not see it yet. So now each event written while a subscription
-- that wants it is inactive holds a shared advisory lock on that subscription until its
-- transaction ends, and re-enabling takes the same lock exclusively (webhooks/repository.py): the
-- re-enable waits for every transaction still writing events it missed, so a replay made after it
-- reads them committed (or they rolled back), and every event written after it gets its delivery
-- at once. An event written while the re-enable waits (or commits) waits for it in turn, then
-- finds the subscription active. The lock is taken only while an inactive subscription wants the
-- type: with every subscription active an event costs what it did.

CREATE FUNCTION webhook_enable_lock(p_webhook uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('webhook_enable:' || p_webhook::text, 0)
$$;

CREATE OR REPLACE FUNCTION webhook_emit(p_type text, p_data text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_event bigint;
    v_data text := btrim(p_data);
    v_sequence bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE events && ARRAY[p_type, '*']) THEN
        RETURN;
    END IF;
    IF left(v_data, 1) <> '{' OR right(v_data, 1) <> '}' THEN
        RAISE EXCEPTION 'webhook_emit: the data of % must be a JSON object', p_type;
    END IF;
    v_sequence := nextval('webhook_event_sequence');
    -- `sequence` first, then the data's own members: text spliced, the data's bytes kept as given.
    v_data := '{"sequence":' || v_sequence
              || CASE WHEN btrim(substr(v_data, 2, length(v_data) - 2)) = '' THEN '}'
                      ELSE ',' || substr(v_data, 2) END;
    INSERT INTO webhook_events (type, body)
    VALUES (p_type, '{"type":' || to_json(p_type)::text || ',"timestamp":'
                    || to_json(webhook_time(clock_timestamp()))::text || ',"data":' || v_data || '}')
    RETURNING id INTO v_event;
    -- Before the deliveries, in a statement of its own: a subscription being re-enabled makes this
    -- wait, and the deliveries' statement below then sees it active.
    PERFORM pg_advisory_xact_lock_shared(webhook_enable_lock(id))
       FROM webhooks WHERE NOT is_active AND events && ARRAY[p_type, '*'];
    INSERT INTO webhook_deliveries (webhook_id, event_id, type)
    SELECT id, v_event, p_type FROM webhooks WHERE is_active AND events && ARRAY[p_type, '*'];
END $$;
