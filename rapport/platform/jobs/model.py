"""What a background job is, as the platform records it: queues, states, the status row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from collections.abc import Mapping

from rapport.platform.errors import RapportError

# -- named queues ---------------------------------------------------------------------------
METADATA = "metadata"   # schema sync and other metadata deploys: few, heavy, ordered
RECORDS = "records"     # bulk record work: imports, mass updates, roll-up recalculation
DEFAULT = "default"     # everything else: outbox actions, mail, housekeeping
QUEUES: tuple[str, ...] = (METADATA, RECORDS, DEFAULT)

JSONValue = Any  # anything ``json.dumps`` accepts; checked at the boundary, not by the type


class JobState(StrEnum):
    """The life of one job row. ``finished`` and ``failed`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"   # an attempt failed; rq will run it again (maybe after a backoff)
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED)


FINAL_STATES: tuple[str, ...] = (JobState.FINISHED.value, JobState.FAILED.value)


@dataclass(frozen=True)
class JobStatus:
    """One row of the platform ``jobs`` table, as callers (API, CLI, admin UI) see it."""

    id: str
    org: str | None
    kind: str
    queue: str
    status: JobState
    progress: int
    total: int | None
    message: str | None
    params: dict[str, JSONValue]
    result: JSONValue
    error: dict[str, JSONValue] | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobStatus:
        values = dict(row)
        values["status"] = JobState(values["status"])
        return cls(**values)

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "org": self.org,
            "kind": self.kind,
            "queue": self.queue,
            "status": self.status.value,
            "progress": self.progress,
            "total": self.total,
            "message": self.message,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class JobQueue(Protocol):
    """The seam other areas depend on to start background work (``JobService`` is one)."""

    def enqueue(self, kind: str, *, org: str | None = None, queue: str | None = None,
                **params: JSONValue) -> str: ...

    def get(self, job_id: str) -> JobStatus: ...


class JobWaitTimeout(RapportError):
    """:meth:`JobService.wait` gave up before the job reached a final state."""

    code = "jobs.wait_timeout"
    status = 504
    title = "Job still running"


def is_permanent(exc: BaseException) -> bool:
    """A 4xx :class:`RapportError` means the input is wrong: running it again cannot help."""
    return isinstance(exc, RapportError) and 400 <= exc.status < 500


def error_body(exc: BaseException) -> dict[str, JSONValue]:
    """The ``error`` column for a failed attempt: the problem dict, or ``jobs.crashed``."""
    if isinstance(exc, RapportError):
        return exc.to_problem()
    return {"code": "jobs.crashed", "detail": repr(exc)}
