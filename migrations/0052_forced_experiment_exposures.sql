-- Forced A/B exposures (docs/experiments.md "Forcing a variant"): a service or admin caller may
-- name a variant in `context.ab_test_group`, and the quote serves it. Such a quote's variants are
-- kept here, {"flag key": "variant"}, and NOT in `experiments`: every experiment figure (the
-- rollups, exposures, conversion, the guardrail) reads `experiments` alone, so forced exposures
-- never enter the statistics.
ALTER TABLE quote_log ADD COLUMN forced_experiments jsonb NOT NULL DEFAULT '{}';
