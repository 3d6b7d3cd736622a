"""(g) A list query filtered and sorted on a formula field, against stored columns of the same values.

A fresh org of the sales bundle holds ``scale.bulk_records`` deals (loaded untimed) with
three fields of equal values: the bundle's formula ``weighted_amount`` (``amount *
probability / 100``, currency, so rounded to 2 places), and two stored currency fields added
for the comparison, ``weighted_stored`` and the indexed ``weighted_indexed``, both written
with the formula's value. The same query runs
on each: ``weighted_* > 20000`` (about half the deals), sorted by it descending, 50 records;
once for the first page and once for page 20, reached by following cursors (untimed).

The formula's SQL cannot use an index, so the database reads every deal, computes the
formula twice per row (WHERE and ORDER BY) and keeps the top 51. The stored column without
an index has the same plan, reading a value instead of computing it: that is the fair
comparison, and the target. The indexed column lets the database walk the index and stop
after 51 rows; that ratio is reported to show what an index buys, not held to a target.
The pages of the three are checked to be identical first; then the queries alternate, run by
run, so caching and background noise weigh on all alike.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from benchmarks.data import deal_rows, new_org, refresh_statistics, sales_bundle, with_fields
from benchmarks.harness import Bench, Result, Target, median_ms, p95_ms
from rapport.runtime.org import OrgRuntime
from rapport.runtime.query import QuerySpec

TITLE = "(g) formula query"
PAGE = 50
LATER_PAGE = 20
THRESHOLD = 20_000
FORMULA = "weighted_amount"  # the sales bundle's own formula field
STORED = "weighted_stored"
INDEXED = "weighted_indexed"
VARIANTS = (FORMULA, STORED, INDEXED)
#: formula queries read every row; fewer runs than the list-query scenario keep the run short
RUNS_DIVISOR = 4
TARGET = Target("<=", 2, "×")


def run(bench: Bench) -> list[Result]:
    org = _filled_org(bench)
    results: list[Result] = []
    for page_name, page_number in (("first page", 1), (f"page {LATER_PAGE}", LATER_PAGE)):
        specs = {name: _spec(name, _cursor(org, name, page_number)) for name in VARIANTS}
        _check_same_pages(org, specs)
        results += _measure(bench, org, specs, page_name)
    return results


def _measure(bench: Bench, org: OrgRuntime, specs: dict[str, QuerySpec], page_name: str) -> list[Result]:
    runs = max(bench.scale.query_runs // RUNS_DIVISOR, 5)
    for _ in range(max(bench.scale.query_warmup // RUNS_DIVISOR, 2)):
        for spec in specs.values():
            org.query(spec)
    samples: dict[str, list[float]] = {name: [] for name in specs}
    for _ in range(runs):
        for name, spec in specs.items():
            samples[name].append(bench.timed(partial(org.query, spec)))
    medians = {name: median_ms(s) for name, s in samples.items()}
    formula, stored, indexed = (medians[name] for name in VARIANTS)
    return [
        bench.result(TITLE, f"{page_name}: formula field, {runs} runs", _figure(samples[FORMULA]), formula),
        bench.result(TITLE, f"{page_name}: stored column, no index", _figure(samples[STORED]), stored),
        bench.result(TITLE, f"{page_name}: stored column, indexed", _figure(samples[INDEXED]), indexed),
        bench.result(TITLE, f"{page_name}: formula / stored without index", f"{formula / stored:.3f}×",
                     formula / stored, TARGET),
        bench.result(TITLE, f"{page_name}: formula / stored with index", f"{formula / indexed:.1f}×",
                     formula / indexed),
    ]


def _figure(samples: list[float]) -> str:
    return f"median {median_ms(samples):.2f} ms, p95 {p95_ms(samples):.2f} ms"


def _spec(field: str, cursor: str | None) -> QuerySpec:
    return QuerySpec("deal", filter={"field": field, "op": "gt", "value": THRESHOLD},
                     fields=("name", "amount", "probability", field), sort=(f"-{field}",), limit=PAGE, cursor=cursor)


def _cursor(org: OrgRuntime, field: str, page_number: int) -> str | None:
    """The cursor that asks for page ``page_number`` (``None`` for the first)."""
    cursor = None
    for _ in range(page_number - 1):
        cursor = org.query(_spec(field, cursor)).next_cursor
        if cursor is None:
            raise RuntimeError(f"fewer than {page_number} pages of deals with {field} > {THRESHOLD}")
    return cursor


def _check_same_pages(org: OrgRuntime, specs: dict[str, QuerySpec]) -> None:
    pages = {name: [(r["id"], r[name]) for r in org.query(spec).records] for name, spec in specs.items()}
    if len(pages[FORMULA]) != PAGE or any(page != pages[FORMULA] for page in pages.values()):
        raise RuntimeError("the formula field and the stored columns give different pages")


# -- data ---------------------------------------------------------------------------------------

def _filled_org(bench: Bench) -> OrgRuntime:
    deal = next(o for o in sales_bundle()["objects"] if o["name"] == "deal")
    formula = next(f for f in deal["fields"] if f["name"] == FORMULA)
    if formula.get("expression") != "amount * probability / 100" or formula.get("return_type") != "currency":
        raise RuntimeError(f"the sales bundle's {FORMULA} is not the formula this scenario compares")
    bundle = with_fields(
        sales_bundle(), "deal",
        {"name": STORED, "label": "Weighted (stored)", "type": "currency"},
        {"name": INDEXED, "label": "Weighted (stored, indexed)", "type": "currency", "indexed": True},
    )
    org = new_org(bench, "formula_query", bundle)
    accounts = [r["id"] for r in org.records().create_many(
        "account", [{"name": f"Account {i:05d}", "industry": "technology"} for i in range(bench.scale.accounts)])]
    rng = random.Random(bench.rng.random())
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    for start in range(0, total, chunk):
        rows = deal_rows(rng, accounts, min(chunk, total - start), first=start)
        org.records().create_many("deal", [_with_weighted(rng, row) for row in rows])
    refresh_statistics(org)
    return org


def _with_weighted(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    """A probability (0–100 in steps of 5; 3% blank) and the weighted amount, as the formula gives it."""
    probability = None if rng.random() < 0.03 else Decimal(rng.randrange(0, 101, 5))
    weighted = None if probability is None else \
        (row["amount"] * probability / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {**row, "probability": probability, STORED: weighted, INDEXED: weighted}
