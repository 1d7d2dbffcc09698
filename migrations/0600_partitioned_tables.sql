-- The append-only tables that grow with traffic become range-partitioned by time (docs/data-lifecycle.md):
-- retention drops whole partitions (quote_service/lifecycle/), never a bulk DELETE.
--
-- Each table is converted without copying a row: it is renamed to <table>_legacy, a partitioned
-- table of the same columns, defaults, checks, identity and indexes takes its name, and the old
-- table is attached as the partition of every time before the day after its newest row (one scan
-- to prove that bound, and the build of the primary key that now includes the time column; no
-- rewrite). An empty table (a fresh install) is dropped instead. Every table gets a default
-- partition (a write no partition covers lands there and is moved out by the lifecycle job,
-- `qs_partition_create`) and its partitions from yesterday to a week ahead; the service keeps
-- creating them ahead (PARTITION_DAYS_AHEAD).

-- The name a partition of `p_table` starting at `p_from` gets: <table>_pYYYYMMDD (a day) or <table>_pYYYYMM (a month).
CREATE FUNCTION qs_partition_name(p_table text, p_from timestamptz, p_unit text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_table || '_p' || to_char(p_from AT TIME ZONE 'UTC', CASE p_unit WHEN 'month' THEN 'YYYYMM' ELSE 'YYYYMMDD' END)
$$;

-- Step 1 of a conversion: `p_table` becomes <p_table>_legacy, its indexes (and so its primary key and
-- unique constraints) <name>_legacy, its triggers gone (the partitioned table gets its own), and the
-- sequences its columns own (not identities) are moved to the new table by step 3.
CREATE FUNCTION qs_partition_set_aside(p_table text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    idx record;
    trg record;
BEGIN
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p_table);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', p_table, p_table || '_legacy');
    FOR idx IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = (p_table || '_legacy')::regclass LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', idx.relname, left(idx.relname, 56) || '_legacy');
    END LOOP;
    FOR trg IN SELECT tgname FROM pg_trigger WHERE tgrelid = (p_table || '_legacy')::regclass AND NOT tgisinternal LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', trg.tgname, p_table || '_legacy');
    END LOOP;
END;
$$;

-- Step 3 (after the migration created the partitioned `p_table` LIKE the legacy one, with its indexes):
-- identities continue where the legacy ones stopped, sequences the legacy columns owned are owned by the
-- new columns, and the legacy table is attached as the partition [MINVALUE, the day after its newest
-- row's day or month, `p_unit`), or dropped when it holds no row. Returns the legacy partition's upper bound (NULL: dropped).
CREATE FUNCTION qs_partition_adopt_legacy(p_table text, p_column text, p_unit text) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    legacy text := p_table || '_legacy';
    col record;
    seq record;
    con record;
    newest timestamptz;
    bound timestamptz;
BEGIN
    FOR col IN SELECT a.attname FROM pg_attribute a
               WHERE a.attrelid = legacy::regclass AND a.attidentity <> '' AND NOT a.attisdropped LOOP
        EXECUTE format('SELECT setval(%L, last_value, is_called) FROM %s',
                       pg_get_serial_sequence(p_table, col.attname), pg_get_serial_sequence(legacy, col.attname));
    END LOOP;
    FOR seq IN SELECT d.objid::regclass AS seq, a.attname FROM pg_depend d
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
               WHERE d.refobjid = legacy::regclass AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
                 AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S' LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.%I', seq.seq, p_table, seq.attname);
    END LOOP;
    EXECUTE format('SELECT max(%I) FROM %I', p_column, legacy) INTO newest;
    IF newest IS NULL THEN
        EXECUTE format('DROP TABLE %I', legacy);
        RETURN NULL;
    END IF;
    bound := (date_trunc(p_unit, newest, 'UTC') AT TIME ZONE 'UTC'
              + CASE p_unit WHEN 'month' THEN interval '1 month' ELSE interval '1 day' END) AT TIME ZONE 'UTC';
    -- Its own primary key goes: the partitioned table's key (which adds the time column) is built on
    -- it when it is attached.
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', legacy, p_table || '_pkey_legacy');
    -- The bound proved by a validated check, so ATTACH does not scan again.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I IS NOT NULL AND %I < %L) NOT VALID',
                   legacy, legacy || '_bound', p_column, p_column, bound);
    EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', legacy, legacy || '_bound');
    -- A check the legacy table has NOT VALID (rows from before it were never checked) is NOT VALID on the
    -- partitioned table too: taken off before the attach, put back after (it then merges with the legacy one).
    FOR con IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
               WHERE conrelid = legacy::regclass AND contype = 'c' AND NOT convalidated LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', p_table, con.conname);
    END LOOP;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', p_table, legacy, bound);
    FOR con IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
               WHERE conrelid = legacy::regclass AND contype = 'c' AND NOT convalidated LOOP
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', p_table, con.conname, con.def);
    END LOOP;
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, legacy || '_bound');
    RETURN bound;
END;
$$;

-- A partition of `p_table` for [p_from, p_to), named `p_name`; false when one exists or another
-- partition overlaps the range. Rows the default partition holds in that range move into it (in the
-- caller's transaction: every row is in exactly one partition throughout, as any reader sees it).
CREATE FUNCTION qs_partition_create(p_table text, p_column text, p_from timestamptz, p_to timestamptz, p_name text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    strays bigint;
BEGIN
    IF to_regclass(p_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = p_table::regclass
                 AND pg_get_expr(c.relpartbound, c.oid) NOT IN ('DEFAULT')
                 AND tstzrange(p_from, p_to) && qs_partition_range(c.oid)) THEN
        RETURN false;
    END IF;
    strays := 0;
    IF to_regclass(p_table || '_default') IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM %I WHERE %I >= %L AND %I < %L',
                       p_table || '_default', p_column, p_from, p_column, p_to) INTO strays;
    END IF;
    IF strays = 0 THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', p_name, p_table, p_from, p_to);
    ELSE
        -- The default partition's rows are routed again, without a DELETE (the audit log refuses one):
        -- it is detached whole, a new default and this partition are made, and its rows inserted anew.
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', p_table, p_table || '_default');
        EXECUTE format('ALTER TABLE %I RENAME TO %I', p_table || '_default', p_table || '_moving');
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_table || '_default', p_table);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', p_name, p_table, p_from, p_to);
        EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I', p_table, p_table || '_moving');
        EXECUTE format('DROP TABLE %I', p_table || '_moving');
    END IF;
    RETURN true;
END;
$$;

-- The range of times a (non-default) partition holds, from its bound expression:
-- FOR VALUES FROM ('…' | MINVALUE) TO ('…' | MAXVALUE).
CREATE FUNCTION qs_partition_range(p_partition oid) RETURNS tstzrange LANGUAGE plpgsql STABLE AS $$
DECLARE
    bound text := pg_get_expr((SELECT relpartbound FROM pg_class WHERE oid = p_partition), p_partition);
    parts text[];
BEGIN
    parts := regexp_match(bound, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$');
    IF parts IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN tstzrange(CASE WHEN parts[1] = 'MINVALUE' THEN NULL ELSE trim(both '''' FROM parts[1])::timestamptz END,
                     CASE WHEN parts[2] = 'MAXVALUE' THEN NULL ELSE trim(both '''' FROM parts[2])::timestamptz END);
END;
$$;

-- Partitions of `p_table` from the unit holding `p_from` to the one holding `p_to`, and its default.
CREATE FUNCTION qs_partition_ensure(p_table text, p_column text, p_unit text, p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    step interval := CASE p_unit WHEN 'month' THEN interval '1 month' ELSE interval '1 day' END;
    cursor_at timestamptz := date_trunc(p_unit, p_from, 'UTC');
    made integer := 0;
BEGIN
    IF to_regclass(p_table || '_default') IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_table || '_default', p_table);
    END IF;
    WHILE cursor_at <= p_to LOOP
        IF qs_partition_create(p_table, p_column, cursor_at, (cursor_at AT TIME ZONE 'UTC' + step) AT TIME ZONE 'UTC',
                               qs_partition_name(p_table, cursor_at, p_unit)) THEN
            made := made + 1;
        END IF;
        cursor_at := (cursor_at AT TIME ZONE 'UTC' + step) AT TIME ZONE 'UTC';
    END LOOP;
    RETURN made;
END;
$$;

-- Where each table's raw rows begin after retention dropped older partitions: reports for earlier
-- hours read the rollups alone (quote_service/analytics/).
CREATE TABLE partition_horizons (
    table_name    text PRIMARY KEY,
    dropped_before timestamptz NOT NULL
);

-- quote_log (by created_at, a partition a day). Flag exposures are its `experiments`/`flags` columns.
SELECT qs_partition_set_aside('quote_log');
CREATE TABLE quote_log (LIKE quote_log_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY
                        INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (created_at);
ALTER TABLE quote_log ADD CONSTRAINT quote_log_pkey PRIMARY KEY (quote_id, created_at);
CREATE INDEX quote_log_created_idx ON quote_log (created_at);
CREATE INDEX quote_log_customer_idx ON quote_log (customer_id, created_at);
SELECT qs_partition_adopt_legacy('quote_log', 'created_at', 'day');
CREATE TRIGGER quote_log_rollup_mark AFTER INSERT ON quote_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_quotes();

-- idempotency_refusals (by created_at, a month a partition). A key is looked up and kept under its
-- advisory lock (quote_service/db/idempotency.py), so the key need not be unique without the time.
SELECT qs_partition_set_aside('idempotency_refusals');
CREATE TABLE idempotency_refusals (LIKE idempotency_refusals_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                   INCLUDING STORAGE) PARTITION BY RANGE (created_at);
ALTER TABLE idempotency_refusals ADD CONSTRAINT idempotency_refusals_pkey
    PRIMARY KEY (principal_id, scope, idempotency_key, created_at);
SELECT qs_partition_adopt_legacy('idempotency_refusals', 'created_at', 'month');

-- stock_movements (by created_at, a month a partition).
SELECT qs_partition_set_aside('stock_movements');
CREATE TABLE stock_movements (LIKE stock_movements_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY
                              INCLUDING STORAGE) PARTITION BY RANGE (created_at);
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_pkey PRIMARY KEY (id, created_at);
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES products (id);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, created_at);
SELECT qs_partition_adopt_legacy('stock_movements', 'created_at', 'month');

-- competitor_prices (by observed_at, a partition a day: the key that drops a duplicate observation,
-- (product_id, competitor, observed_at), holds the time already).
SELECT qs_partition_set_aside('competitor_prices');
CREATE TABLE competitor_prices (LIKE competitor_prices_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                INCLUDING IDENTITY INCLUDING STORAGE) PARTITION BY RANGE (observed_at);
ALTER TABLE competitor_prices ADD CONSTRAINT competitor_prices_pkey PRIMARY KEY (id, observed_at);
ALTER TABLE competitor_prices ADD CONSTRAINT competitor_prices_once UNIQUE (product_id, competitor, observed_at);
ALTER TABLE competitor_prices ADD CONSTRAINT competitor_prices_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES products (id);
CREATE INDEX competitor_prices_list_idx ON competitor_prices (observed_at DESC, id DESC);
CREATE INDEX competitor_prices_product_idx ON competitor_prices (product_id, competitor, observed_at DESC);
SELECT qs_partition_adopt_legacy('competitor_prices', 'observed_at', 'day');

-- webhook_events and webhook_deliveries (by created_at, a partition a day). A delivery's event is
-- no longer a foreign key (it would have to carry the event's time): the lifecycle job drops an
-- events partition only when no delivery points into it.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
SELECT qs_partition_set_aside('webhook_events');
CREATE TABLE webhook_events (LIKE webhook_events_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY
                             INCLUDING STORAGE) PARTITION BY RANGE (created_at);
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (id, created_at);
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);
SELECT qs_partition_adopt_legacy('webhook_events', 'created_at', 'day');

SELECT qs_partition_set_aside('webhook_deliveries');
CREATE TABLE webhook_deliveries (LIKE webhook_deliveries_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                 INCLUDING STORAGE) PARTITION BY RANGE (created_at);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id, created_at);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_webhook_id_fkey
    FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE status = 'pending';
SELECT qs_partition_adopt_legacy('webhook_deliveries', 'created_at', 'day');

-- audit_log (by `at`, a month a partition; kept forever unless AUDIT_LOG_RETENTION_DAYS says otherwise).
SELECT qs_partition_set_aside('audit_log');
CREATE TABLE audit_log (LIKE audit_log_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)
    PARTITION BY RANGE (at);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id, at);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
SELECT qs_partition_adopt_legacy('audit_log', 'at', 'month');
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

-- Partitions from yesterday to a week ahead, and the default ones.
SELECT qs_partition_ensure('quote_log', 'created_at', 'day', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('idempotency_refusals', 'created_at', 'month', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('stock_movements', 'created_at', 'month', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('competitor_prices', 'observed_at', 'day', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('webhook_events', 'created_at', 'day', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('webhook_deliveries', 'created_at', 'day', now() - interval '1 day', now() + interval '7 days');
SELECT qs_partition_ensure('audit_log', 'at', 'month', now() - interval '1 day', now() + interval '7 days');
