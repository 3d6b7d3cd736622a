"""Job kinds: a name, the function that does the work, and the queue it runs on.

A job function is called as ``fn(ctx, **params)`` and returns a JSON-able result::

    def import_rows(ctx: JobContext, *, file_id: str) -> dict[str, int]:
        ...
        ctx.progress(done, total, "importing")
        return {"created": created}

    registry.register("records.import", import_rows, queue=RECORDS)

Rules every job function follows:

- It receives ids and plain JSON params, never objects: it loads what it needs itself.
- It is **idempotent**. rq delivers at least once: an attempt can fail after its own work
  committed (e.g. while recording the result), and then it runs again. Write so that a
  second run finds the work done and does nothing (upserts, "where not already done",
  natural keys). A job whose row is already ``finished`` is never run again.
- It raises a :class:`~rapport.platform.errors.RapportError` with a 4xx status when the
  input is wrong (a permanent failure, not retried); any other exception is retried with
  backoff until ``settings.job_max_retries`` is used up.

Services that jobs need (database, record service...) are bound when the composition root
registers the function (a closure or ``functools.partial``), not looked up globally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol
from collections.abc import Callable

from rapport.platform.jobs.model import DEFAULT, QUEUES, JSONValue

KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class ProgressSink(Protocol):
    def __call__(self, job_id: str, done: int, total: int | None, message: str | None) -> None: ...


#: a job kind's function: ``fn(ctx, **params)``, its parameters named by the kind
JobFunction = Callable[..., JSONValue]


@dataclass(frozen=True)
class JobContext:
    """What a running job knows about itself, and its way to report progress."""

    job_id: str
    org: str | None
    kind: str
    params: dict[str, JSONValue]
    attempt: int  # 1 on the first run, 2 on the first retry...
    _sink: ProgressSink = field(repr=False, compare=False)

    def progress(self, done: int, total: int | None, message: str | None = None) -> None:
        """Record progress on the job's row, in its own short transaction.

        Visible to anyone polling the job at once, even while the job's own work is still
        uncommitted. (On SQLite, do not call it while holding a write transaction on the
        platform database: it would wait for that transaction.) ``message=None`` keeps the
        previous message.
        """
        if done < 0 or (total is not None and total < 0):
            raise ValueError(f"job {self.job_id}: progress must not be negative (got {done}/{total})")
        self._sink(self.job_id, done, total, message)


@dataclass(frozen=True)
class JobKind:
    name: str
    fn: JobFunction
    queue: str


class JobRegistry:
    """Job kinds by name. Built once by the composition root, shared by app and workers."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(self, name: str, fn: JobFunction, *, queue: str = DEFAULT) -> JobKind:
        if not KIND_NAME.match(name):
            raise ValueError(f"job kind {name!r}: use dotted lower-case names like 'records.import'")
        if queue not in QUEUES:
            raise ValueError(f"job kind {name!r}: queue {queue!r} is not one of {', '.join(QUEUES)}")
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is already registered")
        kind = JobKind(name, fn, queue)
        self._kinds[name] = kind
        return kind

    def job(self, name: str, *, queue: str = DEFAULT) -> Callable[[JobFunction], JobFunction]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: JobFunction) -> JobFunction:
            self.register(name, fn, queue=queue)
            return fn

        return decorate

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def names(self) -> list[str]:
        return sorted(self._kinds)
