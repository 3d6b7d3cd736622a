"""Reads and writes of the platform ``jobs`` table. Every write is its own short transaction."""

from __future__ import annotations

from datetime import datetime

from typing import Any

import sqlalchemy as sa

from rapport.platform import tables
from rapport.platform.db import Database
from rapport.platform.errors import NotFound
from rapport.platform.jobs.model import FINAL_STATES, JobState, JobStatus, JSONValue
from rapport.platform.sqltypes import utcnow

_jobs = tables.jobs


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads ---------------------------------------------------------------------------
    def get(self, job_id: str) -> JobStatus:
        with self.db.platform.connect() as conn:
            row = conn.execute(sa.select(_jobs).where(_jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", code="jobs.not_found")
        return JobStatus.from_row(dict(row))

    def list(self, org: str | None, limit: int) -> list[JobStatus]:
        query = sa.select(_jobs).order_by(_jobs.c.created_at.desc(), _jobs.c.id.desc()).limit(limit)
        if org is not None:
            query = query.where(_jobs.c.org == org)
        with self.db.platform.connect() as conn:
            return [JobStatus.from_row(dict(row)) for row in conn.execute(query).mappings()]

    # -- writes --------------------------------------------------------------------------
    def insert(self, job_id: str, *, org: str | None, kind: str, queue: str,
               params: dict[str, JSONValue]) -> None:
        now = utcnow()
        with self.db.platform.begin() as conn:
            conn.execute(_jobs.insert().values(
                id=job_id, org=org, kind=kind, queue=queue, status=JobState.QUEUED.value,
                progress=0, total=None, message=None, params=params, result=None, error=None,
                attempts=0, created_at=now, updated_at=now))

    def claim(self, job_id: str) -> JobStatus | None:
        """Mark the job running and count the attempt; None when it is already final."""
        with self.db.platform.begin() as conn:
            done = conn.execute(
                _jobs.update()
                .where(_jobs.c.id == job_id, _jobs.c.status.not_in(FINAL_STATES))
                .values(status=JobState.RUNNING.value, attempts=_jobs.c.attempts + 1,
                        updated_at=utcnow()))
            row = conn.execute(sa.select(_jobs).where(_jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", code="jobs.not_found")
        return JobStatus.from_row(dict(row)) if done.rowcount else None

    def progress(self, job_id: str, done: int, total: int | None, message: str | None) -> None:
        values: dict[str, Any] = {"progress": done, "total": total, "updated_at": utcnow()}
        if message is not None:
            values["message"] = message
        self._update(job_id, values)

    def finish(self, job_id: str, result: JSONValue) -> None:
        self._update(job_id, {"status": JobState.FINISHED.value, "result": result, "error": None})

    def fail(self, job_id: str, error: dict[str, JSONValue], *, retrying: bool) -> None:
        state = JobState.RETRYING if retrying else JobState.FAILED
        self._update(job_id, {"status": state.value, "error": error})

    def fail_abandoned(self, older_than: datetime) -> None:
        """Jobs still ``running`` with no word since ``older_than`` died with their worker
        (killed, out of memory): rq's own time limit has passed, so they are failed."""
        error = {"code": "jobs.abandoned",
                 "detail": "the worker running this job stopped without a word (killed or out of memory)"}
        with self.db.platform.begin() as conn:
            conn.execute(_jobs.update()
                         .where(_jobs.c.status == JobState.RUNNING.value, _jobs.c.updated_at < older_than)
                         .values(status=JobState.FAILED.value, error=error, updated_at=utcnow()))

    def _update(self, job_id: str, values: dict[str, Any]) -> None:
        values.setdefault("updated_at", utcnow())
        with self.db.platform.begin() as conn:
            conn.execute(_jobs.update().where(_jobs.c.id == job_id).values(**values))
