"""The one function rq runs: :func:`run_job`, given nothing but a Rapport job id.

rq stores ``run_job(job_id)`` (as JSON); the job's kind and params live in the platform
``jobs`` row. The worker binds its :class:`~rapport.platform.jobs.service.JobService` for
the duration of each rq job (:func:`bound`), so ``run_job`` needs no global registry.

One attempt:

1. claim the row: ``running``, ``attempts + 1`` — unless it is already ``finished`` or
   ``failed``, in which case nothing runs (a job never fires twice);
2. call ``fn(ctx, **params)``;
3. ``finished`` with the JSON result; or, when it raised:
   - a 4xx :class:`~rapport.platform.errors.RapportError` → ``failed`` at once, and rq is
     told not to retry (the input is wrong, another run cannot help);
   - anything else → ``retrying`` while rq has retries left, else ``failed``; the exception
     is re-raised so rq records it and schedules the retry with its backoff.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING
from collections.abc import Iterator

from rq.job import get_current_job

from rapport.platform.errors import InvalidRequest, NotFound
from rapport.platform.jobs.model import JSONValue, error_body, is_permanent
from rapport.platform.jobs.registry import JobContext

if TYPE_CHECKING:
    from rapport.platform.jobs.service import JobService

log = logging.getLogger(__name__)

_service: ContextVar[JobService | None] = ContextVar("rapport_job_service", default=None)


@contextmanager
def bound(service: JobService) -> Iterator[JobService]:
    """Run :func:`run_job` calls in this block (this thread) against ``service``."""
    token = _service.set(service)
    try:
        yield service
    finally:
        _service.reset(token)


def current_service() -> JobService:
    service = _service.get()
    if service is None:
        raise RuntimeError(
            "run_job was called outside a Rapport worker: no JobService is bound; "
            "use a worker from rapport.platform.jobs, or `with jobs.bound(service):`")
    return service


def run_job(job_id: str) -> JSONValue:
    """Run one attempt of the job ``job_id`` (see the module docstring). Returns its result."""
    service = current_service()
    store = service.store
    try:
        status = store.claim(job_id)
    except NotFound:
        _forbid_rq_retry()  # no row, nothing to run: a retry cannot find one either
        raise
    if status is None:
        log.info("job %s is already final; not running it again", job_id)
        return store.get(job_id).result
    kind = service.registry.get(status.kind)
    try:
        if kind is None:
            raise InvalidRequest(
                f"job {job_id}: kind {status.kind!r} is not registered in this worker "
                f"(known: {', '.join(service.registry.names()) or 'none'})", code="jobs.unknown_kind")
        ctx = JobContext(job_id=job_id, org=status.org, kind=status.kind, params=dict(status.params),
                         attempt=status.attempts, _sink=store.progress)
        result = kind.fn(ctx, **status.params)
        _check_json(job_id, result)
    except Exception as exc:
        retrying = not is_permanent(exc) and _rq_will_retry()
        if is_permanent(exc):
            _forbid_rq_retry()
        store.fail(job_id, error_body(exc), retrying=retrying)
        raise
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: the worker is going away
        store.fail(job_id, {"code": "jobs.interrupted", "detail": f"the worker stopped ({type(exc).__name__})"},
                   retrying=False)
        raise
    store.finish(job_id, result)
    return result


def _check_json(job_id: str, result: object) -> None:
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"job {job_id}: the result is not JSON ({exc}); return ids and plain values",
            code="jobs.result_not_json") from None


def _rq_will_retry() -> bool:
    job = get_current_job()
    return job is not None and job.should_retry


def _forbid_rq_retry() -> None:
    # The worker decides on a retry from this same Job object right after we raise.
    job = get_current_job()
    if job is not None:
        job.retries_left = 0
