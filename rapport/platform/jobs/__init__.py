"""Background jobs on rq: named queues, job kinds, status rows, retries, workers.

    registry = JobRegistry()
    registry.register("records.import", import_rows, queue=RECORDS)
    jobs = JobService(db, settings, registry)          # Redis or embedded, from settings
    worker = EmbeddedWorker(jobs); worker.start()      # embedded mode only
    job_id = jobs.enqueue("records.import", org="acme", file_id="...")
    jobs.wait(job_id, timeout=30).to_dict()

The platform ``jobs`` row is the record of a job (status, progress, attempts, result,
error); rq carries only ``run_job(job_id)``, serialized as JSON. Job functions take
``(ctx, **params)``, get ids and plain params, and must be idempotent (see
:mod:`rapport.platform.jobs.registry`). A 4xx ``RapportError`` fails a job at once; any
other exception is retried with exponential backoff up to ``settings.job_max_retries``.

Modules: ``model`` (queues, states, ``JobStatus``), ``registry`` (kinds, ``JobContext``),
``service`` (``JobService``), ``runner`` (``run_job``), ``worker`` (embedded thread,
bursts, ``run_worker``), ``connection`` (Redis or fakeredis).
"""

from __future__ import annotations

from rapport.platform.jobs.connection import SERIALIZER, connect, embedded_connection
from rapport.platform.jobs.model import (
    DEFAULT,
    METADATA,
    QUEUES,
    RECORDS,
    JobQueue,
    JobState,
    JobStatus,
    JobWaitTimeout,
)
from rapport.platform.jobs.registry import JobContext, JobFunction, JobKind, JobRegistry
from rapport.platform.jobs.runner import bound, run_job
from rapport.platform.jobs.service import JobService, backoff_intervals
from rapport.platform.jobs.worker import (
    EmbeddedWorker,
    InProcessWorker,
    RapportWorker,
    make_worker,
    promote_due_jobs,
    run_worker,
    work_burst,
)

__all__ = [
    "DEFAULT",
    "METADATA",
    "QUEUES",
    "RECORDS",
    "SERIALIZER",
    "EmbeddedWorker",
    "InProcessWorker",
    "JobContext",
    "JobFunction",
    "JobKind",
    "JobQueue",
    "JobRegistry",
    "JobService",
    "JobState",
    "JobStatus",
    "JobWaitTimeout",
    "RapportWorker",
    "backoff_intervals",
    "bound",
    "connect",
    "embedded_connection",
    "make_worker",
    "promote_due_jobs",
    "run_job",
    "run_worker",
    "work_burst",
]
