"""(b) Bulk create: ``create_many`` in chunks, one transaction per chunk.

The deals land in the shared sales org, where the query and schema scenarios use them.
"""

from __future__ import annotations

from benchmarks.data import create_accounts, deal_rows, new_org, sales_bundle, sales_org
from benchmarks.harness import Bench, Result, Target

TITLE = "(b) bulk create"
TARGET = Target(">=", 20_000, " records/s", backends=frozenset({"sqlite"}))


def run(bench: Bench) -> list[Result]:
    org, accounts = sales_org(bench)
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    rows = deal_rows(bench.rng, accounts, total)
    records = org.records()

    def write_all() -> None:
        for start in range(0, total, chunk):
            records.create_many("deal", rows[start:start + chunk])

    seconds = bench.timed(write_all)
    bench.shared["sales_filled"] = True
    rate = total / seconds
    return [bench.result(TITLE, f"create_many, {total:,} in chunks of {chunk:,}",
                         f"{rate:,.0f} records/s ({seconds:.1f} s)", rate, TARGET),
            *_full_bundle(bench)]


def _full_bundle(bench: Bench) -> list[Result]:
    """The same into the demo's full sales bundle: a formula default and two validation rules
    per record, the formula fields read back, three roll-ups per account recomputed per chunk."""
    org = new_org(bench, "bulk_full", sales_bundle())
    accounts = create_accounts(org, bench.scale.accounts)
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    rows = deal_rows(bench.rng, accounts, total)
    records = org.records()

    def write_all() -> None:
        for start in range(0, total, chunk):
            records.create_many("deal", rows[start:start + chunk])

    seconds = bench.timed(write_all)
    rate = total / seconds
    return [bench.result(TITLE, f"create_many with formulas, rules and roll-ups, {total:,} in chunks of {chunk:,}",
                         f"{rate:,.0f} records/s ({seconds:.1f} s)", rate)]
