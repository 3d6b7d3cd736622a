"""(j) Sandboxed scripts: what a trivial before-save trigger costs a write.

Two orgs of the foundation's sales bundle, one with a before-save trigger on ``deal`` that
sets one field (``record['next_step'] = 'Call'``), one without. The sandbox's worker pool is
started and warmed up first (untimed).

Single creates: ``scale.single_creates // 5`` deals, one ``records.create`` call each (one
transaction per call), into the two orgs in turn, each call timed on its own; the overhead is
the difference of the two medians — one round trip to a worker (the run message with the
record, the script executed, the changed field coerced back), the governor and the runs log.

Bulk: 1,000 deals through one ``create_many`` call, ``BULK_ROUNDS`` times into each org in
turn: the trigger runs once per batch (one round trip; the worker executes the script once
per record), so the ratio of the medians shows what a trigger adds per record in bulk.
"""

from __future__ import annotations

import statistics
from functools import partial
from typing import Any

from benchmarks.data import create_accounts, deal_rows, foundation_bundle, new_org
from benchmarks.harness import Bench, Result, Target
from rapport.runtime.org import OrgRuntime

TITLE = "(j) scripts"
TRIGGER = {"object": "deal", "name": "next_step", "kind": "before_save", "code": "record['next_step'] = 'Call'"}
BULK = 1_000
BULK_ROUNDS = 10
WARMUP = 50
TARGET_MS = Target("<", 1.0, " ms/record")


def run(bench: Bench) -> list[Result]:
    with_trigger = new_org(bench, "scripts_on", {**foundation_bundle(), "scripts": [TRIGGER]})
    without = new_org(bench, "scripts_off", foundation_bundle())
    accounts = {org.name: create_accounts(org, bench.scale.accounts // 10) for org in (with_trigger, without)}
    for org in (with_trigger, without):  # warm-up: the pool started, the script compiled, caches filled
        for row in deal_rows(bench.rng, accounts[org.name], WARMUP):
            org.records().create("deal", row)
    return [*_single(bench, with_trigger, without, accounts), *_bulk(bench, with_trigger, without, accounts)]


def _single(bench: Bench, on: OrgRuntime, off: OrgRuntime, accounts: dict[str, list[str]]) -> list[Result]:
    total = max(bench.scale.single_creates // 5, 10)
    on_s: list[float] = []
    off_s: list[float] = []
    created: dict[OrgRuntime, dict[str, Any]] = {}
    for index in range(total):
        for org, samples in ((on, on_s), (off, off_s)):
            row = deal_rows(bench.rng, accounts[org.name], 1, first=index)[0]
            seconds, created[org] = bench.timed_value(partial(org.records().create, "deal", row))
            samples.append(seconds)
    assert (created[on]["next_step"], created[off]["next_step"]) == ("Call", None), "the trigger did not run"
    on_ms, off_ms = statistics.median(on_s) * 1000, statistics.median(off_s) * 1000
    return [
        bench.result(TITLE, f"records.create with a before-save trigger, {total:,} calls (median)",
                     f"{on_ms:.3f} ms", on_ms),
        bench.result(TITLE, f"records.create without, {total:,} calls (median)", f"{off_ms:.3f} ms", off_ms),
        bench.result(TITLE, "a trivial before-save trigger's overhead per single create (difference of medians)",
                     f"{on_ms - off_ms:.3f} ms/record", on_ms - off_ms, TARGET_MS),
    ]


def _bulk(bench: Bench, on: OrgRuntime, off: OrgRuntime, accounts: dict[str, list[str]]) -> list[Result]:
    on_s: list[float] = []
    off_s: list[float] = []
    for round_ in range(BULK_ROUNDS):
        for org, samples in ((on, on_s), (off, off_s)):
            rows = deal_rows(bench.rng, accounts[org.name], BULK, first=round_ * BULK)
            samples.append(bench.timed(partial(org.records().create_many, "deal", rows)))
    on_ms, off_ms = statistics.median(on_s) * 1000, statistics.median(off_s) * 1000
    what = f"create_many of {BULK:,} deals, median of {BULK_ROUNDS}"
    return [
        bench.result(TITLE, f"{what}, with the trigger", f"{on_ms:.1f} ms ({on_ms / BULK * 1000:.0f} µs/record)",
                     on_ms),
        bench.result(TITLE, f"{what}, without", f"{off_ms:.1f} ms ({off_ms / BULK * 1000:.0f} µs/record)", off_ms),
        bench.result(TITLE, "bulk insert with a trigger / without", f"{on_ms / off_ms:.2f}×", on_ms / off_ms),
    ]
