-- Stale flags (docs/flags.md#stale-flags): a flag fully rolled out and unchanged for
-- STALE_FLAG_DAYS is `potentially_stale`, unless it is marked `permanent` (a kill switch, an
-- operational toggle meant to stay).
ALTER TABLE feature_flags ADD COLUMN permanent boolean NOT NULL DEFAULT false;

-- A flag's lifecycle, the one definition the API's `lifecycle`, its `?lifecycle=` filter and the
-- sweep that emits `flag.potentially_stale` all read: `permanent`; `potentially_stale` when it
-- serves everyone the same way — no variants, and no percentage or one of 0 or 100 — and has not
-- changed for `p_days` days (NULL: the session's quote_service.stale_flag_days, set by the
-- service from STALE_FLAG_DAYS; 30 without it); else `active`.
CREATE FUNCTION flag_lifecycle(p_permanent boolean, p_updated_at timestamptz, p_rollout jsonb, p_now timestamptz,
                               p_days float8 DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_permanent THEN 'permanent'
        WHEN coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(p_rollout -> 'variants') = 'array'
                                              THEN p_rollout -> 'variants' END), 0) = 0
             AND (p_rollout ->> 'percentage' IS NULL OR (p_rollout ->> 'percentage')::numeric IN (0, 100))
             AND p_updated_at <= p_now - make_interval(secs => 86400 * coalesce(
                     p_days, nullif(current_setting('quote_service.stale_flag_days', true), '')::float8, 30))
            THEN 'potentially_stale'
        ELSE 'active'
    END
$$;

-- Which flags `flag.potentially_stale` was sent for, and for which version (its updated_at): once
-- each time a flag becomes potentially stale. Kept apart from feature_flags so that marking one
-- is no change of the flag (no history row, no config.changed, no audit row).
CREATE TABLE feature_flag_stale_marks (
    flag_id         uuid NOT NULL REFERENCES feature_flags (id) ON DELETE CASCADE,
    flag_updated_at timestamptz NOT NULL,
    marked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flag_id, flag_updated_at)
);
