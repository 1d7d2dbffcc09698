"""ConfigSnapshot: every piece of active configuration, immutable and indexed.

Built once per reload from plain lists; the quote engine reads it without any I/O.
"""

from __future__ import annotations

import msgspec


class ConfigSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The configuration in force at one version."""

    version: int
