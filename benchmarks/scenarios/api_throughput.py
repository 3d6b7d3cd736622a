"""(h) The generated REST API under load, against a hand-written ceiling.

Both apps run under uvicorn (one worker each, in subprocesses) over the same data: 100,000
deals and 1,000 accounts in Rapport's org, the same deal rows copied into the ceiling's one
table (``benchmarks/api/ceiling.py``). A loopback load generator in processes of its own
(``benchmarks/api/load.py``) keeps 16 requests in flight for 10 s per scenario after 2 s of
warm-up: create one record, read one by id, list a first page of 50 with a filter and a
sort. The ceiling and Rapport take turns scenario by scenario; the reads and lists run
before the creates, so that both read exactly the loaded rows. Rapport must reach 70% of the
ceiling's requests per second in each; any non-2xx answer is an error, and errors fail the row.
"""

from __future__ import annotations

import sys

import httpx

from benchmarks.api import load, server, spy
from benchmarks.harness import Bench, Result, Scale, Target

TITLE = "(h) api throughput"
CONCURRENCY = 16
GENERATORS = 2  # load generator processes sharing the 16 requests in flight
SECONDS, WARMUP = 10.0, 2.0
QUICK_SECONDS, QUICK_WARMUP = 2.0, 1.0
RUN_ORDER = ("read", "list", "create")  # creates last: the reads see exactly the loaded rows
REPORT_ORDER = ("create", "read", "list")
LABELS = {"create": "create one record", "read": "read by id", "list": "list 50, filter + sort"}
RATIO = Target(">=", 0.70, "× ceiling")
NO_ERRORS = Target("<=", 0, " errors")
APPS = ("ceiling", "rapport")


def run(bench: Bench) -> list[Result]:
    quick = bench.scale.bulk_records < Scale().bulk_records
    seconds, warmup = (QUICK_SECONDS, QUICK_WARMUP) if quick else (SECONDS, WARMUP)
    _log(f"{bench.backend}: (h) loading {bench.scale.bulk_records:,} deals into both apps …")
    fixture = server.prepare(bench, bench.scale.bulk_records)
    measured: dict[tuple[str, str], load.Measured] = {}
    with server.running("ceiling", fixture) as ceiling, server.running("rapport", fixture) as rapport:
        servers = {"ceiling": ceiling, "rapport": rapport}
        _check_same_answers(ceiling, rapport, fixture)
        for scenario in RUN_ORDER:
            for app in APPS:
                measured[scenario, app] = _measure(servers[app], fixture, scenario, seconds, warmup)
                _log(f"{bench.backend}: (h) {scenario} {app}: {_figure(measured[scenario, app])}")
        if bench.profiler is not None:
            _profile((rapport, ceiling), fixture, seconds, warmup, measured)
    return [row for scenario in REPORT_ORDER for row in _rows(bench, scenario, measured, seconds)]


def _measure(target: server.Server, fixture: server.Fixture, scenario: str, seconds: float,
             warmup: float) -> load.Measured:
    result = load.measure(scenario, target.url, fixture.token(target.app), server_pid=target.pid,
                          concurrency=CONCURRENCY, warmup=warmup, duration=seconds, deal_ids=fixture.deal_ids,
                          account_ids=fixture.account_ids, seed=len(scenario), processes=GENERATORS)
    if result.errors:
        _log(f"(h) {scenario} {target.app}: {result.errors} errors, e.g. {result.error_samples}")
    return result


def _rows(bench: Bench, scenario: str, measured: dict[tuple[str, str], load.Measured],
          seconds: float) -> list[Result]:
    label = LABELS[scenario]
    rows = [bench.result(TITLE, f"{label}: {app}, {CONCURRENCY} in flight, {seconds:g} s "
                         f"({measured[scenario, app].generator})",
                         _figure(measured[scenario, app]), measured[scenario, app].errors, NO_ERRORS)
            for app in APPS]
    ratio = measured[scenario, "rapport"].per_second / measured[scenario, "ceiling"].per_second
    rows.append(bench.result(TITLE, f"{label}: Rapport / ceiling (requests/s)", f"{ratio:.3f}×", ratio, RATIO))
    return rows


def _figure(result: load.Measured) -> str:
    generators = " + ".join(f"{share * 100:.0f}%" for share in result.generator_cpu)
    return (f"{result.per_second:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"{result.errors} errors; CPU: server {result.server_cpu * 100:.0f}%, generator {generators}")


def _check_same_answers(ceiling: server.Server, rapport: server.Server, fixture: server.Fixture) -> None:
    """The two apps answer the benchmark's reads with the same records (creates: the same fields)."""
    answers = {}
    for target in (ceiling, rapport):
        client = httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {fixture.token(target.app)}"})
        with client:
            read = client.get(f"{load.DEALS}/{fixture.deal_ids[0]}")
            page = client.get(load.DEALS, params={
                "filter": '{"and": [{"field": "stage", "op": "eq", "value": "proposal"}, '
                          '{"field": "amount", "op": "gt", "value": 1000}]}',
                "sort": "-amount", "limit": "50", "fields": load.LIST_FIELDS})
            created = client.post(load.DEALS, json={"name": "Check", "account": fixture.account_ids[0],
                                                     "amount": 1234.5, "stage": "proposal",
                                                     "close_date": "2025-06-30"})
        for response in (read, page, created):
            response.raise_for_status()
        answers[target.app] = (read.json(), page.json()["records"], sorted(created.json()))
    if answers["ceiling"] != answers["rapport"]:
        raise RuntimeError("the ceiling and Rapport answer the benchmark's requests differently")


def _profile(servers: tuple[server.Server, ...], fixture: server.Fixture, seconds: float, warmup: float,
             measured: dict[tuple[str, str], load.Measured]) -> None:
    """Another pass over each app with py-spy attached (the table's figures are unprofiled)."""
    if not spy.available():
        _log("(h) --profile: py-spy is not installed (`.venv/bin/pip install py-spy`); no profile")
        return
    for scenario in RUN_ORDER:
        for target in servers:
            unprofiled = measured[scenario, target.app]
            with spy.sampling(target.pid, warmup + seconds) as samples:
                profiled = _measure(target, fixture, scenario, seconds, warmup)
            summary = spy.summary(samples, requests=profiled.per_second * (warmup + seconds),
                                  server_cpu_us=unprofiled.server_cpu * 1e6 / unprofiled.per_second)
            _log(f"(h) profile of {target.app}, {LABELS[scenario]}:\n{summary}")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
