"""``rapport worker``: run background jobs from Redis (production mode)."""

from __future__ import annotations

import argparse
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._input import parse_list
from rapport.platform.errors import SettingsError
from rapport.platform.jobs import QUEUES, run_worker


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser("worker", parents=common,
                                 help="run background jobs from Redis (needs RAPPORT_REDIS_URL)")
    worker.add_argument("--queues", default=",".join(QUEUES), metavar="A,B",
                        help=f"the queues to work, in priority order (default: {','.join(QUEUES)})")
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(handler=work)


def work(ctx: Context) -> int:
    if ctx.settings.redis_url is None:  # fail before opening any database
        raise SettingsError("rapport worker needs a Redis server: set RAPPORT_REDIS_URL "
                            "(without it, jobs run inside the process that enqueues them)")
    queues = parse_list(ctx.args.queues) or QUEUES
    # An unknown queue name fails in run_worker with jobs.unknown_queue, before any work.
    run_worker(ctx.app.settings, queues, registry=ctx.app.job_kinds, burst=ctx.args.burst)
    return 0
