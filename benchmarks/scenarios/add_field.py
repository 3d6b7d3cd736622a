"""(d) Adding a field to the filled deal table through ``metadata.apply``.

First a text field, then (a separate revision) an indexed currency field, whose apply
also builds the index over every existing row. Each apply is one transaction: the DDL,
the new revision row and the commit.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from benchmarks.data import AUTHOR, filled_sales_org, foundation_bundle, with_fields
from benchmarks.harness import Bench, Result, Target
from rapport.runtime.org import OrgRuntime

TITLE = "(d) add field"
TARGET = Target("<", 1, " s", backends=frozenset({"postgres"}))
TEXT_FIELD = {"name": "notes", "label": "Notes", "type": "text", "max_length": 255}
CURRENCY_FIELD = {"name": "discount", "label": "Discount", "type": "currency", "indexed": True}


def run(bench: Bench) -> list[Result]:
    org = filled_sales_org(bench)
    rows = bench.scale.bulk_records
    results = []
    bundle = foundation_bundle()
    for label, field in (("text field", TEXT_FIELD), ("indexed currency field", CURRENCY_FIELD)):
        bundle = with_fields(bundle, "deal", field)
        seconds = bench.timed(_applying(org, bundle))
        results.append(bench.result(TITLE, f"{label}, {rows:,} rows", f"{seconds:.3f} s", seconds, TARGET))
    return results


def _applying(org: OrgRuntime, bundle: dict[str, Any]) -> Callable[[], None]:
    def apply() -> None:
        applied = org.metadata.apply(bundle, author=AUTHOR, message="benchmark: add a field")
        if applied.revision is None:
            raise RuntimeError("the bundle added no field")
    return apply
