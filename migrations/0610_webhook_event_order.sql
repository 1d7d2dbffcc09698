-- Webhook events a receiver can order (docs/webhooks.md#the-order-of-events).
--
-- Every event's `data` carries `sequence`, a number taken from one sequence when the event is
-- written. Every change an event reports holds the row lock of the resource it changes until it
-- commits (a refund and a cancel lock their order's row first; move_price() locks the product's
-- row; an order's row is new in the transaction that writes `order.created`; a trigger's row is
-- the row it fires on), and the event is written under that lock. So a later change of the same
-- resource takes its number only after the earlier one committed: per resource, `sequence`
-- increases in commit order, and a receiver that keeps the highest one it has seen ends in the
-- committed state whatever order the deliveries arrive in. Numbers of different resources
-- interleave and have gaps (an event nobody subscribes to is not written); they say nothing about
-- the order of changes to different resources.
--
-- The sequence is NOT cached per session (CACHE 1, the default): a cached block would hand a
-- later transaction a smaller number than an earlier one's.
--
-- `timestamp` is now the moment the event is written (clock_timestamp()), no longer its
-- transaction's start: a refund that waited for another on its order's lock was stamped before
-- the one it waited for.

CREATE SEQUENCE webhook_event_sequence AS bigint CACHE 1;

CREATE OR REPLACE FUNCTION webhook_emit(p_type text, p_data text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_event bigint;
    v_data text := btrim(p_data);
    v_sequence bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE is_active AND events && ARRAY[p_type, '*']) THEN
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
