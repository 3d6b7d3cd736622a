"""What the metadata loader needs to know about a field type.

The field-type registry lives in ``rapport.runtime.fields``; the loader receives it by
injection (``load_bundle(data, field_types=...)``) so that metadata depends on nothing of
ours. Each type's JSON Schema fragment for its options is ``$defs/<type>`` in
``schemas/field.json``.
"""

from __future__ import annotations

from typing import Any, Protocol
from collections.abc import Iterable, Mapping

from rapport.platform.errors import Problem
from rapport.metadata.model import Bundle, FieldDef, ObjectDef


class FieldTypeSpec(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def defaults(self) -> Mapping[str, Any]:
        """Option defaults the loader fills in, e.g. ``{"max_length": 255}`` for text."""
        ...

    def check(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        """Semantic problems of this field's options (``at`` is the field's JSON pointer)."""
        ...

    def is_required(self, field: FieldDef) -> bool:
        """Whether every record must have a value (``required``, or always for some types)."""
        ...
