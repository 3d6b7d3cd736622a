"""(a) One record per call: the record service against a raw Core insert of the same rows.

Both sides write each deal in its own transaction. The service runs its whole pipeline
(revision lookup, coercion, defaults, validation with the lookup check, autonumber, insert,
serialisation); the raw side fills the system columns and the autonumber with plain values.
The two alternate in blocks so that table growth and checkpoints weigh on both alike.
"""

from __future__ import annotations

from functools import partial
from itertools import count
from typing import Any
from collections.abc import Callable

from benchmarks.data import create_accounts, deal_rows, foundation_bundle, new_org, sales_bundle
from benchmarks.harness import Bench, Result, Target
from rapport.platform.actor import SYSTEM
from rapport.platform.ids import new_id
from rapport.platform.sqltypes import utcnow
from rapport.runtime.org import OrgRuntime

TITLE = "(a) single create"
BLOCKS = 10
WARMUP = 50
RAW_NUMBERS_FROM = 900_000  # the raw rows' deal numbers, clear of the service's sequence
Writer = Callable[[list[dict[str, Any]]], None]


def run(bench: Bench) -> list[Result]:
    return _compare(bench) + _full_bundle(bench)


def _full_bundle(bench: Bench) -> list[Result]:
    """The same creates into the demo's full sales bundle: a formula default, two validation
    rules, the formula fields read back, three roll-ups on the account recomputed."""
    org = new_org(bench, "single_full", sales_bundle())
    accounts = create_accounts(org, bench.scale.accounts)
    service = _service_writer(org)
    total = bench.scale.single_creates // 2
    service(deal_rows(bench.rng, accounts, WARMUP))
    seconds = bench.timed(partial(service, deal_rows(bench.rng, accounts, total)))
    us = seconds / total * 1e6
    return [bench.result(TITLE, f"records.create with formulas, rules and roll-ups, {total:,} calls",
                         f"{us:,.0f} µs/record", us)]


def _compare(bench: Bench) -> list[Result]:
    org = new_org(bench, "single", foundation_bundle())
    accounts = create_accounts(org, bench.scale.accounts)
    service, raw = _service_writer(org), _raw_writer(org)
    total = bench.scale.single_creates
    block = max(total // BLOCKS, 1)
    service(deal_rows(bench.rng, accounts, WARMUP))
    raw(deal_rows(bench.rng, accounts, WARMUP))

    service_s = raw_s = 0.0
    for start in range(0, total, block):
        service_rows = deal_rows(bench.rng, accounts, min(block, total - start), first=start)
        raw_rows = deal_rows(bench.rng, accounts, len(service_rows), first=start)
        service_s += bench.timed(partial(service, service_rows))
        raw_s += bench.timed(partial(raw, raw_rows))

    service_us, raw_us = service_s / total * 1e6, raw_s / total * 1e6
    return [
        bench.result(TITLE, f"records.create, {total:,} calls", f"{service_us:,.0f} µs/record", service_us),
        bench.result(TITLE, f"raw Core insert, {total:,} transactions", f"{raw_us:,.0f} µs/record", raw_us),
        bench.result(TITLE, "service / raw", f"{service_us / raw_us:.3f}×", service_us / raw_us,
                     Target("<=", 3, "×")),
    ]


def _service_writer(org: OrgRuntime) -> Writer:
    records = org.records(SYSTEM)

    def write(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            records.create("deal", row)
    return write


def _raw_writer(org: OrgRuntime) -> Writer:
    table = org.model().object("deal").table
    location = org.location
    numbers = count(RAW_NUMBERS_FROM)

    def write(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            values = {**_system_values(), **row, "deal_number": f"D-{next(numbers)}"}
            with location.begin() as conn:
                conn.execute(table.insert().values(values))
    return write


def _system_values() -> dict[str, Any]:
    now = utcnow()
    return {"id": new_id(), "owner": SYSTEM.id, "created_at": now, "created_by": SYSTEM.id,
            "updated_at": now, "updated_by": SYSTEM.id, "version": 1}
