"""What every scenario shares: the scale, targets, result rows, timing and the report table.

A scenario is a function ``run(bench) -> list[Result]``. It prepares its data untimed and
wraps only the operation being measured in :meth:`Bench.timed`, which also feeds the
optional profiler, so ``--profile`` shows where the measured time goes and nothing else.
"""

from __future__ import annotations

import cProfile
import operator
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from collections.abc import Callable

from rapport.platform.app import Rapport

T = TypeVar("T")
QUICK_FACTOR = 10  # --quick divides the counts by this
Comparison = Literal["<", "<=", ">="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}
_SYMBOL = {"<": "<", "<=": "≤", ">=": "≥"}


@dataclass(frozen=True)
class Scale:
    """How much work each scenario does (the full run); see :meth:`shrunk` for ``--quick``."""

    single_creates: int = 10_000
    bulk_records: int = 100_000
    bulk_chunk: int = 5_000
    accounts: int = 1_000
    query_runs: int = 200
    query_warmup: int = 20
    wide_objects: int = 100
    wide_fields: int = 50
    compile_runs: int = 5

    def shrunk(self, factor: int) -> Scale:
        return replace(
            self,
            single_creates=self.single_creates // factor,
            bulk_records=self.bulk_records // factor,
            accounts=self.accounts // factor,
            query_runs=self.query_runs // factor,
            query_warmup=max(self.query_warmup // factor, 2),
            wide_objects=self.wide_objects // factor,
        )


@dataclass(frozen=True)
class Target:
    """A goal for a figure: ``measured <op> value``; ``backends`` limits where it applies."""

    op: Comparison
    value: float
    unit: str
    backends: frozenset[str] | None = None

    def applies_to(self, backend: str) -> bool:
        return self.backends is None or backend in self.backends

    def met_by(self, measured: float) -> bool:
        return _COMPARE[self.op](measured, self.value)

    def describe(self) -> str:
        return f"{_SYMBOL[self.op]} {self.value:,g}{self.unit}"


@dataclass(frozen=True)
class Result:
    """One row of the report: a measured figure, and its target when it has one."""

    scenario: str
    name: str
    backend: str
    figure: str
    value: float
    target: Target | None = None

    @property
    def target_text(self) -> str:
        target = self._target_here
        return "—" if target is None else target.describe()

    @property
    def status(self) -> str:
        target = self._target_here
        if target is None:
            return "—"
        return "PASS" if target.met_by(self.value) else "FAIL"

    @property
    def _target_here(self) -> Target | None:
        """The target, if it applies on this row's backend."""
        if self.target is None or not self.target.applies_to(self.backend):
            return None
        return self.target


@dataclass
class Bench:
    """One backend's running deployment, plus what scenarios hand on to each other."""

    app: Rapport
    backend: str
    scale: Scale
    rng: random.Random = field(default_factory=lambda: random.Random(20_240_601))
    profiler: cProfile.Profile | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    def timed(self, operation: Callable[[], Any]) -> float:
        """Seconds ``operation`` takes (profiled when ``--profile`` is on)."""
        return self.timed_value(operation)[0]

    def timed_value(self, operation: Callable[[], T]) -> tuple[float, T]:
        """Seconds ``operation`` takes, and what it returned."""
        if self.profiler is not None:
            self.profiler.enable()
        start = time.perf_counter()
        try:
            value = operation()
        finally:
            elapsed = time.perf_counter() - start
            if self.profiler is not None:
                self.profiler.disable()
        return elapsed, value

    def result(self, scenario: str, name: str, figure: str, value: float,
               target: Target | None = None) -> Result:
        return Result(scenario, name, self.backend, figure, value, target)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    # the 19th of the 20-quantiles' cut points is the 95th percentile
    return statistics.quantiles(samples, n=20)[-1] * 1000


def markdown_table(results: list[Result]) -> str:
    header = ("scenario", "measurement", "backend", "measured", "target", "result")
    rows = [header, tuple("---" for _ in header)]
    rows += [(r.scenario, r.name, r.backend, r.figure, r.target_text, r.status) for r in results]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
