"""(b) Bulk create: ``create_many`` in chunks, one transaction per chunk.

The deals land in the shared sales org, where the query and schema scenarios use them.
"""

from __future__ import annotations

from benchmarks.data import create_accounts, deal_rows, new_org, sales_bundle, sales_org
from benchmarks.harness import Bench, Result, Target
from rapport.runtime.org import OrgRuntime

TITLE = "(b) bulk create"
TARGET = Target(">=", 20_000, " records/s", backends=frozenset({"sqlite"}))


def run(bench: Bench) -> list[Result]:
    org, accounts = sales_org(bench)
    seconds = _write_all(bench, org, accounts)
    bench.shared["sales_filled"] = True
    full_org = new_org(bench, "bulk_full", sales_bundle())
    full_seconds = _write_all(bench, full_org, create_accounts(full_org, bench.scale.accounts))
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    rate, full_rate = total / seconds, total / full_seconds
    return [
        bench.result(TITLE, f"create_many, {total:,} in chunks of {chunk:,}",
                     f"{rate:,.0f} records/s ({seconds:.1f} s)", rate, TARGET),
        # the demo's full sales bundle: a formula default and two validation rules per record,
        # the formula fields read back, three roll-ups per account recomputed per chunk
        bench.result(TITLE, f"create_many with formulas, rules and roll-ups, {total:,} in chunks of {chunk:,}",
                     f"{full_rate:,.0f} records/s ({full_seconds:.1f} s)", full_rate),
    ]


def _write_all(bench: Bench, org: OrgRuntime, accounts: list[str]) -> float:
    """Seconds to create ``scale.bulk_records`` deals in chunks, one transaction per chunk."""
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    rows = deal_rows(bench.rng, accounts, total)
    records = org.records()

    def write_all() -> None:
        for start in range(0, total, chunk):
            records.create_many("deal", rows[start:start + chunk])

    return bench.timed(write_all)
