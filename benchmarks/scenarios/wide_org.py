"""(e) A wide org: 100 objects × 50 fields of mixed types, each object looking up the previous.

Measures loading (JSON Schema and semantic checks) plus compiling to SQLAlchemy tables —
what a process pays once per revision — and the first ``metadata.apply`` of the bundle
into an empty org (every table and index created, the revision stored).
"""

from __future__ import annotations

import statistics
from functools import partial

from benchmarks.data import AUTHOR, new_org, wide_bundle
from benchmarks.harness import Bench, Result
from rapport.runtime.compiled import compile_org
from rapport.runtime.loading import load

TITLE = "(e) wide org"


def run(bench: Bench) -> list[Result]:
    objects, fields = bench.scale.wide_objects, bench.scale.wide_fields
    data = wide_bundle(objects, fields)
    shape = f"{objects} objects × {fields} fields"

    load_s: list[float] = []
    compile_s: list[float] = []
    for _ in range(bench.scale.compile_runs):
        seconds, bundle = bench.timed_value(partial(load, data))
        load_s.append(seconds)
        compile_s.append(bench.timed(partial(compile_org, "wide", 1, bundle)))
    load_ms, compile_ms = statistics.median(load_s) * 1000, statistics.median(compile_s) * 1000
    total_ms = load_ms + compile_ms

    org = new_org(bench, "wide")
    apply_s = bench.timed(lambda: org.metadata.apply(data, author=AUTHOR, message="benchmark: wide org"))
    return [
        bench.result(TITLE, f"load + compile_org, {shape} (median of {len(load_s)})",
                     f"{total_ms:,.0f} ms (load {load_ms:,.0f} + compile {compile_ms:,.0f})", total_ms),
        bench.result(TITLE, f"first metadata.apply, {shape}", f"{apply_s:.2f} s", apply_s),
    ]
