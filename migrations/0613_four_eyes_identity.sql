-- Four-eyes that one admin cannot get around alone (docs/governance.md): every user and API key
-- records the person who made it, so an approval can tell another person from the author's own
-- key or a user the author made.
--
-- A person is a user, or an API key that acts for no user (made on the command line). An API
-- key acts for `created_by`: the person whose request made it (a key made by a key acts for the
-- person that key acts for). That person may be such a key, so `created_by` no longer refers to
-- `users` only. NULL: made on the command line (or before this migration); the key is its own
-- person.
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_created_by_fkey;

-- Who made each user (the person, as above); NULL: the command line, seed-demo, or before this migration.
ALTER TABLE users ADD COLUMN created_by uuid;

-- What the author's request fixed that the stored body does not show: a new user's password hash,
-- a new API key's hash and prefix (the plaintext is never stored; the author was shown the key).
ALTER TABLE change_requests ADD COLUMN sealed jsonb;
