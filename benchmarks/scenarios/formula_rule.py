"""(f) A 10-term validation rule: its compiled Python per record, and what it costs a write.

First the rule alone: checked against the sales bundle's ``deal`` (as the metadata loader
does), compiled with ``compile_python`` and evaluated on ``scale.bulk_records`` varied
deals (blanks, every stage, some that break the rule), each evaluation building the
``Scope`` the record service builds. The looked-up value the rule reads
(``account.industry``) is prepared beforehand, as the service loads it once per batch.

Then the record service: ``scale.single_creates`` valid deals through ``create_many`` in
chunks of 1,000, into an org where the rule is active and into one where the same rule is
``"active": false`` (so it is not compiled; the demo bundle's own rules are left out of
both), alternating chunk by chunk so that table growth weighs on both alike. The difference
is the rule's whole cost on a write: evaluating it and loading the accounts' industries,
one query per chunk.
"""

from __future__ import annotations

import copy
import random
import statistics
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from benchmarks.data import FIRST_CLOSE_DATE, STAGES, new_org, sales_bundle
from benchmarks.harness import Bench, Result, Target
from rapport.runtime.formula import Env, FType, Scope, Use, check, compile_python
from rapport.runtime.loading import load
from rapport.runtime.org import OrgRuntime

TITLE = "(f) formula rule"
RULE_NAME = "deal_consistent"
#: ten conditions, any of which makes a deal invalid: comparisons, picklist tests, blanks,
#: text functions, a date, arithmetic and one looked-up field
RULE = """OR(
  amount < 0,
  amount > 10000000,
  probability < 0 || probability > 100,
  AND(ISPICKVAL(stage, "closed_won"), probability != 100),
  AND(ISPICKVAL(stage, "closed_lost"), probability != 0),
  AND(amount > 50000, ISBLANK(next_step), NOT(ISPICKVAL(stage, "prospecting"))),
  close_date < DATE(2020, 1, 1),
  LEN(TRIM(name)) < 3,
  BEGINS(UPPER(name), "TEST"),
  AND(ISPICKVAL(account.industry, "retail"), amount * probability / 100 > 5000000)
)"""
PASSES = 5
CHUNK = 1_000
INDUSTRIES = ("technology", "manufacturing", "retail", "finance", "healthcare")
PROBABILITIES = {"prospecting": (5, 10, 15), "qualification": (20, 25, 30), "proposal": (40, 50, 60),
                 "negotiation": (70, 75, 80, 90), "closed_won": (100,), "closed_lost": (0,)}
TARGET_US = Target("<", 20, " µs/record")


def run(bench: Bench) -> list[Result]:
    return [*_evaluate(bench), *_create(bench)]


# -- the rule alone -----------------------------------------------------------------------------

def _evaluate(bench: Bench) -> list[Result]:
    bundle = load(rule_bundle(active=True))
    deal = bundle.object("deal")
    assert deal is not None
    typed = check(bundle, deal, RULE, Use(f"validation rule '{RULE_NAME}'", frozenset({FType.BOOLEAN}),
                                          allow_prior=True))
    condition = compile_python(typed)
    rng = random.Random(bench.rng.random())
    records = [_stored_values(row) for row in varied_rows(rng, bench.scale.bulk_records)]
    related = [{"account.industry": rng.choice(INDUSTRIES)} for _ in records]
    env = Env(user_id="benchmarks", user_name="Benchmarks", org_name="bench")
    work = list(zip(records, related))

    def evaluate_all() -> int:
        failed = 0
        for record, rel in work:
            if condition(Scope(record, None, rel, env)):
                failed += 1
        return failed

    evaluate_all()  # warm-up
    passes = [bench.timed_value(evaluate_all) for _ in range(PASSES)]
    seconds = statistics.median(s for s, _ in passes)
    failed = passes[0][1]
    per_record = seconds / len(work) * 1e6
    return [bench.result(TITLE, f"compiled rule, {len(work):,} records ({failed:,} fail it), median of {PASSES}",
                         f"{per_record:.2f} µs/record", per_record, TARGET_US)]


def _stored_values(row: dict[str, Any]) -> dict[str, Any]:
    """A deal as the record service holds it when rules run: stored Python values."""
    return {**row, "id": "benchmark", "account": f"account-{row['account']}", "version": 1}


# -- the record service with and without the rule -----------------------------------------------

def _create(bench: Bench) -> list[Result]:
    total = bench.scale.single_creates
    with_rule = _org(bench, "rule_on", active=True)
    without_rule = _org(bench, "rule_off", active=False)
    rng = random.Random(bench.rng.random())
    on_s = off_s = 0.0
    for start in range(0, total, CHUNK):
        rows = valid_rows(rng, min(CHUNK, total - start), first=start)
        on_s += bench.timed(partial(_write, with_rule, rows))
        off_s += bench.timed(partial(_write, without_rule, rows))
    on_us, off_us = on_s / total * 1e6, off_s / total * 1e6
    what = f"create_many, {total:,} in chunks of {CHUNK:,}"
    return [
        bench.result(TITLE, f"{what}, rule active", f"{on_us:,.1f} µs/record", on_us),
        bench.result(TITLE, f"{what}, rule inactive", f"{off_us:,.1f} µs/record", off_us),
        bench.result(TITLE, "rule's cost per created record (active − inactive)",
                     f"{on_us - off_us:+,.1f} µs/record ({on_us / off_us:.3f}×)", on_us - off_us),
    ]


def _org(bench: Bench, name: str, *, active: bool) -> tuple[OrgRuntime, list[str]]:
    org = new_org(bench, name, rule_bundle(active=active))
    rows = [{"name": f"Account {i:05d}", "industry": INDUSTRIES[i % len(INDUSTRIES)]}
            for i in range(bench.scale.accounts)]
    accounts = [record["id"] for record in org.records().create_many("account", rows)]
    return org, accounts


def _write(target: tuple[OrgRuntime, list[str]], rows: list[dict[str, Any]]) -> None:
    org, accounts = target
    records = [{**row, "account": accounts[row["account"] % len(accounts)]} for row in rows]
    org.records().create_many("deal", records)


# -- data -----------------------------------------------------------------------------------------

def rule_bundle(*, active: bool) -> dict[str, Any]:
    """The sales bundle with this rule as its only validation rule (the demo's own are left out)."""
    bundle = copy.deepcopy(sales_bundle())
    bundle["validation_rules"] = [{"object": "deal", "name": RULE_NAME, "error_condition": RULE,
                                   "message": "The deal's amount, stage and probability do not fit together",
                                   "active": active}]
    return bundle


def valid_rows(rng: random.Random, count: int, first: int = 0) -> list[dict[str, Any]]:
    """Deals that pass the rule; ``account`` is an index into the org's accounts."""
    rows = []
    for i in range(count):
        stage = rng.choice(STAGES)
        amount = Decimal(rng.randrange(10_000, 10_000_000)).scaleb(-2)
        needs_step = amount > 50_000 and stage != "prospecting"
        rows.append({
            "name": f"Deal {first + i:07d}",
            "account": rng.randrange(1_000_000),
            "amount": amount,
            "stage": stage,
            "probability": Decimal(rng.choice(PROBABILITIES[stage])),
            "close_date": FIRST_CLOSE_DATE + timedelta(days=rng.randrange(730)),
            "next_step": "Call the buyer" if needs_step or rng.random() < 0.5 else None,
        })
    return rows


def varied_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Valid deals with blanks here and there; about 5% break the rule (a test name, an old
    close date, a won deal below 100%, a large deal whose next step was blanked)."""
    rows = valid_rows(rng, count)
    for row in rows:
        for name in ("amount", "probability", "close_date", "next_step"):
            if rng.random() < 0.05:
                row[name] = None
        roll = rng.random()
        if roll < 0.01:
            row["name"] = "TEST " + row["name"]
        elif roll < 0.02:
            row["close_date"] = date(2019, 12, 31)
        elif roll < 0.03:
            row["stage"], row["probability"] = "closed_won", Decimal(90)
    return rows
