"""Record and entity ids: UUIDv7 strings — opaque, unique across orgs, time-ordered."""

from __future__ import annotations

import uuid6


def new_id() -> str:
    return str(uuid6.uuid7())
