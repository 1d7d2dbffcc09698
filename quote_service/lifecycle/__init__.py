"""Data lifecycle (docs/data-lifecycle.md): time-partitioned append-only tables, partitions made
ahead, retention that drops whole partitions — hourly in the service (`LifecycleJob`) and now
with `quote-service retention [--dry-run]`."""
