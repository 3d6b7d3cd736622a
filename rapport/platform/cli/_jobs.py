"""Running a job from the CLI and following its status row with a progress bar."""

from __future__ import annotations

import sys
import time
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._output import ProgressBar
from rapport.platform.errors import Problem, RapportError
from rapport.platform.jobs import JobStatus

POLL_SECONDS = 0.1
WORKER_HINT_AFTER_SECONDS = 5.0


def apply_in_background(ctx: Context, org: str, bundle: Any, *, author: str, message: str,
                        confirm_data_loss: bool) -> dict[str, Any]:
    """Run ``metadata.apply`` as a job and wait for it; returns the finished job's dict.

    Without Redis the job runs in this process's embedded worker; with Redis a
    ``rapport worker`` must be running somewhere.
    """
    app = ctx.app
    app.start_embedded_worker()  # does nothing when Redis is configured
    job_id = app.jobs.enqueue("metadata.apply", org=org, bundle=bundle, author=author, message=message,
                              confirm_data_loss=confirm_data_loss)
    return follow(ctx, job_id, "applying").to_dict()


def follow(ctx: Context, job_id: str, label: str) -> JobStatus:
    """Poll the job's row until it is final, drawing its progress; raise if it failed."""
    bar = ProgressBar(label)
    started = time.monotonic()
    hinted = ctx.settings.redis_url is None  # the embedded worker is already running
    status = ctx.app.jobs.get(job_id)
    try:
        while True:
            status = ctx.app.jobs.get(job_id)
            if status.total or status.progress:
                bar.update(status.progress, status.total, status.message)
            if status.is_final:
                break
            if not hinted and status.status == "queued" and time.monotonic() - started > WORKER_HINT_AFTER_SECONDS:
                print(f"job {job_id} is waiting for a worker: start one with `rapport worker`", file=sys.stderr)
                hinted = True
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        bar.finish()
        where = "in this process, which finishes it before exiting" if ctx.settings.redis_url is None \
            else "in a worker"
        print(f"stopped following job {job_id}; it goes on {where}: see `{ctx.command(f'job show {job_id}')}`",
              file=sys.stderr)
        raise
    finally:
        bar.finish()
    if status.status == "failed":
        raise job_error(status)
    return status


def job_error(status: JobStatus) -> RapportError:
    """The error a failed job recorded, as the exception the CLI prints."""
    body = status.error or {}
    problems = [Problem(p.get("pointer", ""), p.get("code", ""), p.get("message", ""), p.get("hint"))
                for p in body.get("errors", []) if isinstance(p, dict)]
    detail = body.get("detail") or "no detail recorded"
    return RapportError(f"job {status.id} ({status.kind}) failed: {detail}",
                        code=str(body.get("code", "jobs.failed")), problems=problems)
