-- How an API key's caller wants money in responses (docs/api.md "Money as numbers"): 'string'
-- (the default: "51.00") or 'number' (51.00, the Go service's wire format). A request's
-- X-Money-Format header overrides it. Existing keys keep strings.
ALTER TABLE api_keys
    ADD COLUMN money_format text NOT NULL DEFAULT 'string' CHECK (money_format IN ('string', 'number'));
