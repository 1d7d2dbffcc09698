-- Once per slot across processes, whatever Redis does (issue 22 item 12).
--
-- A background loop whose pass must run once per time slot (the decision schedule, the
-- guardrail checker) takes the slot here: one row per loop holds the start of the newest slot
-- taken, and taking a slot is a conditional upsert that only moves it forward
-- (`... DO UPDATE ... WHERE loop_slots.slot_start < excluded.slot_start RETURNING`). Of any
-- number of processes, the first to move it runs the pass; the others update no row. A Redis key
-- did this before and forgot the slot when Redis restarted empty, so the pass ran twice.
-- The slot's start, not its number, is stored: a changed interval keeps the order.
CREATE TABLE loop_slots (
    loop       text PRIMARY KEY,
    slot_start timestamptz NOT NULL,
    taken_at   timestamptz NOT NULL DEFAULT now()
);
