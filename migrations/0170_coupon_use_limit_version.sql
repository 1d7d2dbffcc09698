-- A coupon that reaches its total usage_limit stops at once everywhere, as a promotion does
-- (0100): the order that takes its last use, or the cancel that gives one back, changes the
-- configuration version in its own transaction, so every process reloads (the ordering one
-- before it answers; the others within the 1 s PostgreSQL check, milliseconds with Redis up).
-- Any other change of `times_used` still bumps nothing: an order never reloads every process.
DROP TRIGGER coupons_config_version_upd ON coupons;
CREATE TRIGGER coupons_config_version_upd AFTER UPDATE ON coupons FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'updated_at')
          OR (OLD.times_used >= OLD.usage_limit) IS DISTINCT FROM (NEW.times_used >= NEW.usage_limit))
    EXECUTE FUNCTION bump_config_version();
