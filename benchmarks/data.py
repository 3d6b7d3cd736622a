"""Benchmark data: the demo sales bundle, realistic deal rows, the shared sales org, and a
generated wide bundle. Seeded, so every run writes the same rows."""

from __future__ import annotations

import copy
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

from benchmarks.harness import Bench
from rapport.runtime.org import OrgRuntime

AUTHOR = "benchmarks"
STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
FIRST_CLOSE_DATE = date(2025, 1, 1)
SALES_ORG = "sales"


def sales_bundle() -> dict[str, Any]:
    """The demo's sales bundle (account, contact, deal) as JSON data, a fresh copy each call."""
    text = (resources.files("rapport.runtime") / "demo" / "bundle.json").read_text("utf-8")
    bundle: dict[str, Any] = json.loads(text)
    return bundle


def foundation_bundle() -> dict[str, Any]:
    """The sales bundle as the foundation's targets were set on it: without formula and roll-up
    fields, default formulas and validation rules (scenarios (f) and (g), and the "full
    bundle" rows of (a) and (b), measure what those cost)."""
    bundle = sales_bundle()
    computed = {"formula", "rollup"}
    removed = {f["name"] for o in bundle["objects"] for f in o["fields"] if f["type"] in computed}
    for obj in bundle["objects"]:
        obj["fields"] = [f for f in obj["fields"] if f["type"] not in computed]
        for f in obj["fields"]:
            f.pop("default_formula", None)
    for layout in bundle.get("layouts", []):
        for section in layout["sections"]:
            section["fields"] = [f for f in section["fields"] if f not in removed]
    for view in bundle.get("list_views", []):
        view["columns"] = [c for c in view["columns"] if c not in removed]
    bundle.pop("validation_rules", None)
    return bundle


def with_fields(bundle: dict[str, Any], object_name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``bundle`` with ``fields`` appended to object ``object_name``."""
    edited = copy.deepcopy(bundle)
    target = next(o for o in edited["objects"] if o["name"] == object_name)
    target["fields"].extend(fields)
    return edited


def new_org(bench: Bench, name: str, bundle: dict[str, Any] | None = None) -> OrgRuntime:
    """A fresh org with ``bundle`` applied (untimed)."""
    bench.app.create_org(name)
    org = bench.app.org(name)
    if bundle is not None:
        org.metadata.apply(bundle, author=AUTHOR)
    return org


def create_accounts(org: OrgRuntime, count: int) -> list[str]:
    rows = [{"name": f"Account {i:05d}", "industry": "technology"} for i in range(count)]
    return [record["id"] for record in org.records().create_many("account", rows)]


def deal_rows(rng: random.Random, account_ids: list[str], count: int, first: int = 0) -> list[dict[str, Any]]:
    """Deals as a form or an import would send them: name, account, amount, stage, close date."""
    return [
        {
            "name": f"Deal {first + i:07d}",
            "account": rng.choice(account_ids),
            "amount": Decimal(rng.randrange(10_000, 10_000_000)).scaleb(-2),  # 100.00 to 99,999.99
            "stage": rng.choice(STAGES),
            "close_date": FIRST_CLOSE_DATE + timedelta(days=rng.randrange(730)),
        }
        for i in range(count)
    ]


def sales_org(bench: Bench) -> tuple[OrgRuntime, list[str]]:
    """The org the bulk, query and schema scenarios share: the foundation's sales bundle plus
    accounts."""
    if "sales" not in bench.shared:
        org = new_org(bench, SALES_ORG, foundation_bundle())
        bench.shared["sales"] = (org, create_accounts(org, bench.scale.accounts))
    org, accounts = bench.shared["sales"]
    return org, accounts


def filled_sales_org(bench: Bench) -> OrgRuntime:
    """The sales org holding ``scale.bulk_records`` deals, with fresh planner statistics;
    filled here (untimed) unless the bulk scenario already did it."""
    org, accounts = sales_org(bench)
    if not bench.shared.get("sales_filled"):
        rows = deal_rows(bench.rng, accounts, bench.scale.bulk_records)
        chunk = bench.scale.bulk_chunk
        for start in range(0, len(rows), chunk):
            org.records().create_many("deal", rows[start:start + chunk])
        bench.shared["sales_filled"] = True
    refresh_statistics(org)
    return org


def refresh_statistics(org: OrgRuntime) -> None:
    """Let PostgreSQL's planner see the rows just loaded, as autovacuum would a little later.

    Right after a bulk load the planner still takes the tables for nearly empty and may join
    with a nested loop over sequential scans (seen: ~0.8 s for the list query instead of
    ~0.6 ms); which plan a run measured would depend on when autovacuum woke up. SQLite keeps
    no statistics unless asked, and Rapport never asks, so it is measured as deployed.
    """
    if org.location.dialect == "postgresql":
        with org.location.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # the whole scratch database; no Core construct exists


# -- a wide org: many objects, many fields of mixed types -------------------------------
WIDE_FIELD_KINDS = ("text", "number", "currency", "date", "picklist", "boolean", "lookup")


def wide_bundle(objects: int, fields: int) -> dict[str, Any]:
    """``objects`` objects of ``fields`` fields, cycling through the common types; each
    lookup points at the previous object (the first object has text fields instead)."""
    return {"objects": [_wide_object(index, fields) for index in range(objects)]}


def _wide_object(index: int, fields: int) -> dict[str, Any]:
    name = f"object_{index:03d}"
    previous = f"object_{index - 1:03d}" if index else None
    return {
        "name": name,
        "label": f"Object {index}",
        "name_field": "field_00",
        "fields": [_wide_field(number, previous) for number in range(fields)],
    }


def _wide_field(number: int, lookup_target: str | None) -> dict[str, Any]:
    kind = WIDE_FIELD_KINDS[number % len(WIDE_FIELD_KINDS)]
    if kind == "lookup" and lookup_target is None:
        kind = "text"
    field: dict[str, Any] = {"name": f"field_{number:02d}", "label": f"Field {number}", "type": kind}
    if kind == "text":
        field["max_length"] = 120
    elif kind == "picklist":
        field["values"] = [{"value": v, "label": v.title()} for v in ("low", "medium", "high")]
    elif kind == "lookup":
        field["target"] = lookup_target
    return field
