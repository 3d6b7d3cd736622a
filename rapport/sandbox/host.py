"""One process's sandbox: its worker pool, its limits, its runs log and its script runner.

The composition root (``rapport.platform.app.Rapport``) makes one :class:`Sandbox` per
process. The worker pool is started on the first script run (a process that never runs a
script starts no workers) and killed by :meth:`Sandbox.close`.
"""

from __future__ import annotations

import threading

from rapport.platform.db import Database
from rapport.platform.settings import Settings
from rapport.sandbox.governor import Limits
from rapport.sandbox.pool import PoolLimits, SandboxCrash, WorkerPool
from rapport.sandbox.runner import ScriptRunner
from rapport.sandbox.runs import RunLog


class Sandbox:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.limits = Limits.from_settings(settings)
        self.runs = RunLog(db, settings.retention_days)
        self.runs.setup()
        self.runner = ScriptRunner(self.pool, self.limits, self.runs)
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()
        self._closed = False

    def pool(self) -> WorkerPool:
        """The worker pool, started on first use."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._closed:
                    raise SandboxCrash("the sandbox is closed: this Rapport process is shutting down")
                if self._pool is None:
                    self._pool = WorkerPool(self.settings.sandbox_workers,
                                            PoolLimits(memory_bytes=self.limits.memory_bytes))
                pool = self._pool
        return pool

    @property
    def started(self) -> bool:
        return self._pool is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self.runs.close()
