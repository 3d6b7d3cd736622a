"""Loading bundles with the real field-type registry."""

from __future__ import annotations

from typing import Any

from rapport.metadata import Bundle, load_bundle
from rapport.runtime.fields import FIELD_TYPES


def load(data: Any) -> Bundle:
    """Validate ``data`` (a bundle as JSON) and return the frozen model, or raise every problem."""
    if isinstance(data, Bundle):
        return data
    return load_bundle(data, field_types=FIELD_TYPES)
