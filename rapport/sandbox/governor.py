"""Governor limits: what the scripts of one transaction may use, and what they used.

Every limit is a setting named ``sandbox.limit.<name>`` (environment variable
``RAPPORT_SANDBOX_LIMIT_<NAME>``), and reaching it raises :class:`LimitReached` with that
name as its code. The limits hold per transaction, across every script the transaction runs
(a trigger, the triggers its writes fire, an action…):

    cpu_time   ms of CPU in script workers         queries    data reads (query, get)
    wall_time  ms between a run's start and end    rows       records those reads return
    memory     bytes of a worker's address space   dml_rows   records created, updated, deleted
    output     bytes of log output                 depth      triggers nested in scripts' own writes

CPU, wall time and memory are enforced by the worker pool (it kills a worker that passes
them); the rest are counted here as the host serves a script's calls. The first limit
reached is final for the transaction: :attr:`Governor.tripped` keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rapport.sandbox.errors import LimitReached


@dataclass(frozen=True)
class LimitInfo:
    attribute: str
    unit: str
    advice: str


LIMITS: dict[str, LimitInfo] = {
    "sandbox.limit.cpu_time": LimitInfo("cpu_time_ms", "ms of CPU time",
                                        "do less work per transaction, e.g. avoid nested loops over many records"),
    "sandbox.limit.wall_time": LimitInfo("wall_time_ms", "ms of wall time",
                                         "do less work per transaction, or fewer data calls"),
    "sandbox.limit.queries": LimitInfo("queries", "queries",
                                       "query once for all records instead of once per record"),
    "sandbox.limit.rows": LimitInfo("rows", "rows read",
                                    "read fewer records: filter, ask for a limit, or select fewer"),
    "sandbox.limit.dml_rows": LimitInfo("dml_rows", "records written",
                                        "write fewer records per transaction"),
    "sandbox.limit.memory": LimitInfo("memory_bytes", "bytes of memory",
                                      "keep fewer or smaller values in memory at once"),
    "sandbox.limit.output": LimitInfo("output_bytes", "bytes of log output", "log less, e.g. only on errors"),
    "sandbox.limit.depth": LimitInfo("depth", "levels of nested triggers",
                                     "a trigger that writes records fires their triggers in turn; make sure it "
                                     "does not update the record it runs on, or stop the chain with a condition"),
}


@dataclass(frozen=True)
class Limits:
    cpu_time_ms: int = 2_000
    wall_time_ms: int = 10_000
    queries: int = 100
    rows: int = 10_000
    dml_rows: int = 1_000
    memory_bytes: int = 256 * 1024 * 1024
    output_bytes: int = 65_536
    depth: int = 5

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(cpu_time_ms=settings.sandbox_limit_cpu_time, wall_time_ms=settings.sandbox_limit_wall_time,
                   queries=settings.sandbox_limit_queries, rows=settings.sandbox_limit_rows,
                   dml_rows=settings.sandbox_limit_dml_rows, memory_bytes=settings.sandbox_limit_memory,
                   output_bytes=settings.sandbox_limit_output, depth=settings.sandbox_limit_depth)

    def value(self, code: str) -> int:
        return int(getattr(self, LIMITS[code].attribute))

    def error(self, code: str, script: str | None = None) -> LimitReached:
        """The error of limit ``code``: which limit, its value, its setting, what to do."""
        info = LIMITS[code]
        value = self.value(code)
        setting = "RAPPORT_" + code.replace(".", "_").upper()
        per = "per worker process" if code == "sandbox.limit.memory" else "per transaction"
        message = (f"scripts reached the limit {code} of {value:,} {info.unit} {per}; {info.advice} "
                   f"(an operator can raise it with the setting {setting})")
        return LimitReached(code, message, script=script, limit=value, setting=code)


@dataclass
class Usage:
    """What a transaction's scripts used (also what one run used, for the runs log)."""

    cpu_ms: int = 0
    wall_ms: int = 0
    queries: int = 0
    rows: int = 0
    dml_rows: int = 0
    output_bytes: int = 0

    def minus(self, other: Usage) -> Usage:
        return Usage(*(a - b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple[int, ...]:
        return (self.cpu_ms, self.wall_ms, self.queries, self.rows, self.dml_rows, self.output_bytes)

    def copy(self) -> Usage:
        return Usage(*self.as_tuple())


class Governor:
    """Counts one transaction's use of the limits; raises :class:`LimitReached` past one."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.used = Usage()
        self.depth = 0
        self.tripped: LimitReached | None = None
        self._clock = clock
        self._outer_started: float | None = None

    # -- counted by the host as it serves calls --------------------------------------------------
    def count_query(self, rows: int) -> None:
        self.check_open()
        self._add("queries", 1, "sandbox.limit.queries")
        self._add("rows", rows, "sandbox.limit.rows")

    def count_dml(self, rows: int = 1) -> None:
        self.check_open()
        self._add("dml_rows", rows, "sandbox.limit.dml_rows")

    def before_query(self) -> None:
        """Refuse a query the limit no longer allows, before it runs."""
        self.check_open()
        if self.used.queries + 1 > self.limits.queries:
            self._trip("sandbox.limit.queries")

    def rows_left(self) -> int:
        return max(0, self.limits.rows - self.used.rows)

    def before_dml(self, rows: int = 1) -> None:
        self.check_open()
        if self.used.dml_rows + rows > self.limits.dml_rows:
            self._trip("sandbox.limit.dml_rows")

    # -- runs ---------------------------------------------------------------------------------
    @contextmanager
    def run(self) -> Iterator[None]:
        """One script run: nested runs (triggers fired by a script's writes) count one level
        of depth each; CPU and wall time are those of the outermost run."""
        self.check_open()
        if self.depth >= self.limits.depth:
            self._trip("sandbox.limit.depth")
        if self.depth == 0:
            self._outer_started = self._clock()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def finish_run(self, cpu_ms: int, output_bytes: int, wall_ms: int) -> None:
        """Add what a run reported (outermost runs only add CPU and wall time: a nested run's
        time is inside its caller's)."""
        self.used.output_bytes += output_bytes
        if self.depth == 0:
            self.used.cpu_ms += cpu_ms
            self.used.wall_ms += wall_ms
        if self.used.output_bytes > self.limits.output_bytes:
            self._trip("sandbox.limit.output")

    def budget(self) -> tuple[int, float, int]:
        """(CPU ms, wall seconds, output bytes) left for a run starting now."""
        cpu = self.limits.cpu_time_ms - self.used.cpu_ms
        wall_ms = self.limits.wall_time_ms - self.used.wall_ms
        if self.depth > 0 and self._outer_started is not None:  # inside a run: what the outer run has left
            wall_ms -= int((self._clock() - self._outer_started) * 1000)
        if cpu <= 0:
            self._trip("sandbox.limit.cpu_time")
        if wall_ms <= 0:
            self._trip("sandbox.limit.wall_time")
        return cpu, wall_ms / 1000, max(0, self.limits.output_bytes - self.used.output_bytes)

    # -- limits ---------------------------------------------------------------------------------
    def check_open(self) -> None:
        """Once a limit was reached, the transaction's scripts do nothing more."""
        if self.tripped is not None:
            raise self.tripped

    def trip(self, code: str, script: str | None = None) -> LimitReached:
        """Record that limit ``code`` was reached (reported by the pool or a worker)."""
        if self.tripped is None:
            self.tripped = self.limits.error(code, script)
        return self.tripped

    def _add(self, attribute: str, amount: int, code: str) -> None:
        value = getattr(self.used, attribute) + amount
        setattr(self.used, attribute, value)
        if value > self.limits.value(code):
            self._trip(code)

    def _trip(self, code: str) -> None:
        raise self.trip(code)


def governor_of(state: dict[str, Any], limits: Limits) -> Governor:
    """The governor of the transaction whose per-transaction ``state`` this is."""
    governor = state.get("sandbox.governor")
    if governor is None:
        governor = state["sandbox.governor"] = Governor(limits)
    return governor  # type: ignore[no-any-return]
