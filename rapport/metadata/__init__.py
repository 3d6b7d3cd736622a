"""Metadata: the bundle format, its JSON Schemas, the loader and the frozen model.

Everything past :func:`load_bundle` works with the frozen dataclasses of
:mod:`rapport.metadata.model`. This area depends on ``rapport.platform`` only; the
field-type registry is passed in (see :class:`FieldTypeSpec`).
"""

from __future__ import annotations

from rapport.metadata.field_spec import FieldTypeSpec
from rapport.metadata.folder import read_bundle_folder, write_bundle_folder
from rapport.metadata.loader import SCHEMA_NAMES, load_bundle, schema
from rapport.metadata.model import (
    COMPONENT_KINDS,
    EMPTY_BUNDLE,
    RESERVED_FIELD_NAMES,
    Bundle,
    Component,
    FieldDef,
    Layout,
    LayoutItem,
    LayoutSection,
    ListView,
    ObjectDef,
    OnDelete,
    PicklistValue,
    RelatedList,
    Sharing,
    SortKey,
)

__all__ = [
    "COMPONENT_KINDS",
    "EMPTY_BUNDLE",
    "RESERVED_FIELD_NAMES",
    "SCHEMA_NAMES",
    "Bundle",
    "Component",
    "FieldDef",
    "FieldTypeSpec",
    "Layout",
    "LayoutItem",
    "LayoutSection",
    "ListView",
    "ObjectDef",
    "OnDelete",
    "PicklistValue",
    "RelatedList",
    "Sharing",
    "SortKey",
    "load_bundle",
    "read_bundle_folder",
    "schema",
    "write_bundle_folder",
]
