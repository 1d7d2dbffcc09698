-- Competitor observations: a 202 means durable (docs/market-intelligence.md).
--
-- POST /competitor-prices writes every accepted observation here, in the request, before it
-- answers; the Redis Stream stays the fast path to the consumers. A consumer deletes the row
-- once the observation is stored in competitor_prices and its signals are evaluated, so a row
-- still here after `replay_after` was accepted but never finished (Redis lost the entry, or it
-- is stuck): the consumers replay it from here, and push `replay_after` on while they do.
CREATE SEQUENCE competitor_price_inbox_ids;
CREATE TABLE competitor_price_inbox (
    id           bigint PRIMARY KEY DEFAULT nextval('competitor_price_inbox_ids'),
    observation  bytea NOT NULL,           -- the stream entry's `o` field, byte for byte
    replay_after timestamptz NOT NULL
);
ALTER SEQUENCE competitor_price_inbox_ids OWNED BY competitor_price_inbox.id;
CREATE INDEX competitor_price_inbox_replay_idx ON competitor_price_inbox (replay_after);

-- The last line behind the consumer's re-validation: no NaN, no price past the API's ceiling,
-- no time before 2000 or at infinity. NOT VALID: rows stored before this are not checked (the
-- reads skip such rows); every row written from now on is.
ALTER TABLE competitor_prices ADD CONSTRAINT competitor_prices_sane CHECK (
    price > 0 AND price < 1e15 AND observed_at >= '2000-01-01T00:00:00Z' AND observed_at < 'infinity'
) NOT VALID;
