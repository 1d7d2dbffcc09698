-- Webhooks that survive a long outage (docs/webhooks.md#a-receiver-that-was-down).
--
-- A subscription remembers since when every attempt to it has failed (`failing_since`, cleared by
-- any 2xx); one failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled by the sender: `is_active`
-- false, `disabled_at` and `disabled_reason` set, and `webhook.disabled` written for the other
-- subscriptions. Re-enabling it (is_active true) clears all three.
ALTER TABLE webhooks
    ADD COLUMN failing_since   timestamptz,
    ADD COLUMN disabled_at     timestamptz,
    ADD COLUMN disabled_reason text;

-- Replay (POST /webhooks/{id}/replay) re-sends the events of a window that a subscription wants,
-- those it missed while inactive included: so an event is now written when any subscription,
-- active or not, wants its type (deliveries are still made for the active ones only). An event
-- nobody subscribes to is still not written.
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
    INSERT INTO webhook_deliveries (webhook_id, event_id, type)
    SELECT id, v_event, p_type FROM webhooks WHERE is_active AND events && ARRAY[p_type, '*'];
END $$;

-- The replay's question: a window of events of some types, oldest first.
CREATE INDEX webhook_events_type_created_idx ON webhook_events (type, created_at);
-- Which deliveries a subscription already has of an event (the replay reuses their webhook-id).
CREATE INDEX webhook_deliveries_hook_event_idx ON webhook_deliveries (webhook_id, event_id);
