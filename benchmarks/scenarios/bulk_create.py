"""(b) Bulk create: ``create_many`` in chunks, one transaction per chunk.

The deals land in the shared sales org, where the query and schema scenarios use them.
"""

from __future__ import annotations

from benchmarks.data import deal_rows, sales_org
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
                         f"{rate:,.0f} records/s ({seconds:.1f} s)", rate, TARGET)]
