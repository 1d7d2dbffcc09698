"""The audit log (docs/governance.md): who changed what, from what to what."""
