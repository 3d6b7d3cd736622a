"""One run in progress, seen from the host: its budget, what it used, and the errors that
end it early (:class:`SandboxLimit`, :class:`SandboxCrash`), with messages that name the
script, the limit and its value, and what to do."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rapport.platform.errors import RapportError
from rapport.sandbox._process import WorkerProcess


class SandboxLimit(RapportError):
    """A run passed the pool's CPU time, wall time or memory limit; its worker was replaced."""

    status = 422
    title = "Script limit exceeded"

    def __init__(self, code: str, message: str, *, script: str, limit: float, cpu_ms: float,
                 wall_ms: float, line: int | None = None) -> None:
        super().__init__(message, code=code, details={"script": script, "limit": limit, "line": line})
        self.script = script
        self.limit = limit
        self.cpu_ms = cpu_ms
        self.wall_ms = wall_ms
        self.line = line


class SandboxCrash(RapportError):
    """A worker died, broke the protocol or could not start; it was replaced."""

    code = "sandbox.worker_crashed"
    status = 422
    title = "Script worker crashed"

    def __init__(self, message: str, *, script: str | None = None, cpu_ms: float = 0.0,
                 wall_ms: float = 0.0) -> None:
        super().__init__(message, details={"script": script})
        self.script = script
        self.cpu_ms = cpu_ms
        self.wall_ms = wall_ms


@dataclass
class Conversation:
    """One run in progress on the host's side."""

    worker: WorkerProcess
    script: str
    run_id: str
    started: float
    deadline: float
    cpu_start: float
    cpu_limit_ms: float
    timeout_s: float
    memory_bytes: int
    host_failure: BaseException | None = None  # on_call's unexpected error: re-raised after done
    last_cpu_ms: float = 0.0

    def wall_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)

    def cpu_ms(self) -> float:
        """CPU the worker used in this run so far (the last reading once it is gone)."""
        total = self.worker.cpu_ms()
        if total is not None:
            self.last_cpu_ms = max(total - self.cpu_start, 0.0)
        return self.last_cpu_ms

    def cpu_limit(self) -> SandboxLimit:
        return SandboxLimit(
            "sandbox.limit.cpu_time",
            f"script '{self.script}' used more than its {self.cpu_limit_ms:,.0f} ms of CPU time "
            "(sandbox.limit.cpu_time) and was stopped; make it do less work, or raise the setting",
            script=self.script, limit=self.cpu_limit_ms, cpu_ms=self.cpu_ms(), wall_ms=self.wall_ms())

    def wall_limit(self) -> SandboxLimit:
        limit_ms = self.timeout_s * 1000
        return SandboxLimit(
            "sandbox.limit.wall_time",
            f"script '{self.script}' ran longer than its {limit_ms:,.0f} ms of wall time "
            "(sandbox.limit.wall_time) and was stopped; make it do less work or fewer data calls, "
            "or raise the setting",
            script=self.script, limit=limit_ms, cpu_ms=self.cpu_ms(), wall_ms=self.wall_ms())

    def memory_limit(self, line: int | None) -> SandboxLimit:
        limit = self.memory_bytes
        return SandboxLimit(
            "sandbox.limit.memory",
            f"script '{self.script}' ran out of memory: a worker may use {limit:,} bytes "
            "(sandbox.limit.memory); make it hold less data at once, or raise the setting",
            script=self.script, limit=limit, cpu_ms=self.cpu_ms(), wall_ms=self.wall_ms(), line=line)

    def crash(self, reason: str) -> SandboxCrash:
        return SandboxCrash(f"the sandbox worker running script '{self.script}' failed: {reason}; "
                            "the run was abandoned and the worker replaced",
                            script=self.script, cpu_ms=self.cpu_ms(), wall_ms=self.wall_ms())
