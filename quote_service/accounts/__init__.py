"""Accounts over HTTP: sign-in, users and API keys (docs/authentication.md). Above `audit`:
the writes that make an admin are change requests (docs/governance.md)."""
