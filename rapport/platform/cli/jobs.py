"""``rapport job list|show``: the background jobs' status records."""

from __future__ import annotations

import argparse
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._output import emit_json, emit_table
from rapport.platform.jobs import JobStatus


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    job = commands.add_parser("job", help="the status and progress of background jobs")
    sub = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", parents=common, help="the newest jobs, optionally of one org")
    listing.add_argument("--org", help="only this org's jobs")
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listing.set_defaults(handler=list_jobs)

    show = sub.add_parser("show", parents=common, help="one job: status, progress, result or error")
    show.add_argument("id", metavar="ID")
    show.set_defaults(handler=show_job)


def _progress(job: JobStatus) -> str:
    if job.total:
        return f"{job.progress}/{job.total}"
    return str(job.progress) if job.progress else ""


def list_jobs(ctx: Context) -> int:
    found = ctx.app.jobs.list(org=ctx.args.org, limit=ctx.args.limit)
    if ctx.json:
        emit_json([job.to_dict() for job in found])
    elif not found:
        print("no jobs yet")
    else:
        emit_table(["id", "org", "kind", "status", "progress", "attempts", "updated (UTC)"],
                   [(j.id, j.org, j.kind, j.status.value, _progress(j), j.attempts,
                     f"{j.updated_at:%Y-%m-%d %H:%M:%S}") for j in found], right=(4, 5))
    return 0


def show_job(ctx: Context) -> int:
    job = ctx.app.jobs.get(ctx.args.id)
    if ctx.json:
        emit_json(job.to_dict())
        return 0
    print(f"job {job.id} ({job.kind}{f', org {job.org}' if job.org else ''})")
    print(f"status: {job.status.value} after {job.attempts} attempt(s)")
    if job.total or job.progress:
        print(f"progress: {_progress(job)}{f' — {job.message}' if job.message else ''}")
    if job.error:
        print(f"error: {job.error.get('detail')} [{job.error.get('code')}]")
    elif job.result is not None:
        print("result:")
        emit_json(job.result)
    return 0
