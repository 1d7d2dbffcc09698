-- Experiments rolled back by their guardrail, and the history of every feature-flag change.
--
-- `rolled_back_at` is set once, by the guardrail checker's conditional UPDATE (`... WHERE
-- rolled_back_at IS NULL`): a second checker racing the first updates no row, so an experiment
-- is rolled back exactly once. GET /api/v1/experiments shows `rolled_back` while it is set.
ALTER TABLE feature_flags ADD COLUMN rolled_back_at timestamptz;

-- One row per change of a flag, written by a trigger in the change's own transaction, whatever
-- wrote it (an admin endpoint, the guardrail checker, seed-demo, plain SQL). The writer may say
-- why with the transaction-local setting `quote_service.flag_change_reason`. No foreign key:
-- a deleted flag keeps its history.
CREATE TABLE feature_flag_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flag_id    uuid NOT NULL,
    flag_key   text NOT NULL,
    action     text NOT NULL CHECK (action IN ('created', 'updated', 'rolled_back', 'deleted')),
    actor      text NOT NULL,
    reason     text,
    before     jsonb,
    after      jsonb,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX feature_flag_history_by_flag ON feature_flag_history (flag_id, id);

CREATE FUNCTION record_flag_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why text := NULLIF(current_setting('quote_service.flag_change_reason', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feature_flag_history (flag_id, flag_key, action, actor, reason, after)
        VALUES (NEW.id, NEW.key, 'created', NEW.created_by, why, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO feature_flag_history (flag_id, flag_key, action, actor, reason, before, after)
        VALUES (NEW.id, NEW.key,
                CASE WHEN OLD.rolled_back_at IS NULL AND NEW.rolled_back_at IS NOT NULL
                     THEN 'rolled_back' ELSE 'updated' END,
                NEW.updated_by, why, to_jsonb(OLD), to_jsonb(NEW));
    ELSE
        INSERT INTO feature_flag_history (flag_id, flag_key, action, actor, reason, before)
        VALUES (OLD.id, OLD.key, 'deleted',
                COALESCE(NULLIF(current_setting('quote_service.flag_change_actor', true), ''), OLD.updated_by),
                why, to_jsonb(OLD));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER feature_flags_history AFTER INSERT OR UPDATE OR DELETE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION record_flag_change();
