"""Running one script: through the worker pool, within the transaction's governor limits,
answering its data calls, logging the run, and turning its failure into a Rapport error.

Every run — a trigger's batch, an action, an endpoint, nested or not — goes through
:meth:`ScriptRunner.run`, which returns the run's ``result`` (see ``rapport.sandbox.api``) or
raises :class:`ScriptFailed` / :class:`LimitReached`; the caller's transaction then rolls
back. The run is logged either way (``rapport.sandbox.runs``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rapport.platform.errors import RapportError
from rapport.platform.sqltypes import utcnow
from rapport.sandbox.catalog import Script
from rapport.sandbox.errors import LimitReached, ScriptFailed
from rapport.sandbox.governor import LIMITS, Governor, Limits, Usage, governor_of
from rapport.sandbox.host_calls import DataAccess, HostCalls
from rapport.sandbox.pool import SandboxCrash, SandboxLimit
from rapport.sandbox.runs import Run, RunLog


class Pool(Protocol):
    def run(self, message: dict[str, Any], on_call: Callable[[str, Any], Any], timeout_s: float,
            cpu_limit_ms: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Invocation:
    """Who runs which script where: the org, the user the run is for, the transaction's
    per-transaction state (which keeps its governor) and how many records it serves."""

    script: Script
    org_id: str
    org_name: str
    user: dict[str, Any]
    state: dict[str, Any]
    records: int = 1


class ScriptRunner:
    def __init__(self, pool: Callable[[], Pool], limits: Limits, runs: RunLog) -> None:
        self._pool = pool
        self.limits = limits
        self.runs = runs

    def governor(self, state: dict[str, Any]) -> Governor:
        return governor_of(state, self.limits)

    def run(self, invocation: Invocation, inputs: dict[str, Any], data: DataAccess) -> dict[str, Any]:
        script = invocation.script
        governor = self.governor(invocation.state)
        depth = governor.depth
        before = governor.used.copy()
        started_at, started = utcnow(), time.monotonic()
        done: dict[str, Any] | None = None
        error: RapportError | None = None
        try:
            with governor.run():
                cpu_ms, wall_s, output_bytes = governor.budget()
                message = {"script": script.key, "code": script.code, "kind": script.kind,
                           "inputs": {**inputs, "user": invocation.user, "org": {"name": invocation.org_name}},
                           "limits": {"cpu_ms": cpu_ms, "output_bytes": output_bytes,
                                      "memory_bytes": self.limits.memory_bytes}}
                done = self._pool().run(message, HostCalls(data, governor), timeout_s=wall_s, cpu_limit_ms=cpu_ms)
        except SandboxLimit as limit:
            error = self._limit(governor, limit.code, script, limit.message, limit.line)
            done = {"cpu_ms": limit.cpu_ms}
        except SandboxCrash as crash:
            error = ScriptFailed(script.key, crash.message, code="sandbox.worker_crashed")
            done = {"cpu_ms": crash.cpu_ms}
        except LimitReached as limit:
            error = limit.for_script(script.key)
        except BaseException as unexpected:  # a failure of the host itself: log the run, then let it through
            self._log(invocation, governor.used.minus(before), depth, started_at,
                      int((time.monotonic() - started) * 1000), {},
                      ScriptFailed(script.key, f"the host failed: {type(unexpected).__name__}",
                                   code="sandbox.host_error"))
            raise
        wall_ms = int((time.monotonic() - started) * 1000)
        report = done or {}
        if error is None and done is not None:
            try:
                governor.finish_run(int(report.get("cpu_ms") or 0), int(report.get("output_bytes") or 0), wall_ms)
                error = self._failure(governor, done, script)
            except LimitReached as limit:
                error = limit.for_script(script.key)
        self._log(invocation, governor.used.minus(before), depth, started_at, wall_ms, report, error)
        if error is not None:
            raise error
        result = (done or {}).get("result")
        return result if isinstance(result, dict) else {}

    def _failure(self, governor: Governor, done: dict[str, Any], script: Script) -> RapportError | None:
        """The error a ``done`` message reports (or a limit the host counted meanwhile)."""
        if done.get("outcome") == "ok":
            return governor.tripped.for_script(script.key) if governor.tripped else None
        reported = done.get("error")
        failure: dict[str, Any] = reported if isinstance(reported, dict) else {}
        code = str(failure.get("code") or "sandbox.script_error")
        line = failure.get("line") if isinstance(failure.get("line"), int) else None
        if code in LIMITS:
            return self._limit(governor, code, script, str(failure.get("message") or code), line)
        if governor.tripped is not None:
            return governor.tripped.for_script(script.key)
        kind = str(failure.get("type") or "Error")
        message = str(failure.get("message") or kind)
        if kind not in ("ScriptError", "HostError"):
            message = f"{kind}: {message}"
        return ScriptFailed(script.key, message, line=line, error_type=kind)

    def _limit(self, governor: Governor, code: str, script: Script, message: str,
               line: int | None) -> RapportError:
        """A limit the pool or the worker reported: the transaction's first limit reached
        (a message too large for the protocol is the script's error, not a governor limit)."""
        if code not in LIMITS:
            return ScriptFailed(script.key, message, line=line, code=code)
        return governor.trip(code, script.key).for_script(script.key)

    def _log(self, invocation: Invocation, used: Usage, depth: int, started_at: Any, wall_ms: int,
             report: dict[str, Any], error: RapportError | None) -> None:
        logs = report.get("logs")
        script = invocation.script
        self.runs.record(Run(
            org_id=invocation.org_id, script=script.key, kind=script.kind, object=script.object,
            records=invocation.records, actor=str(invocation.user.get("name") or invocation.user.get("id")),
            started_at=started_at, duration_ms=wall_ms, cpu_ms=int(report.get("cpu_ms") or 0),
            queries=used.queries, rows=used.rows, dml_rows=used.dml_rows,
            output_bytes=int(report.get("output_bytes") or 0), depth=depth,
            outcome="ok" if error is None else ("limit" if isinstance(error, LimitReached) else "error"),
            error_code=None if error is None else error.code, error=None if error is None else error.message,
            line=getattr(error, "line", None),
            log="\n".join(str(line) for line in logs) if isinstance(logs, list) and logs else None))
