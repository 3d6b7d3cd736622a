"""``rapport serve``: the web application under uvicorn (``--workers`` processes)."""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn

from rapport.platform.cli._context import Context
from rapport.platform.errors import InvalidRequest

APP = "rapport.platform.web.asgi:app_from_env"


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", parents=common, help="serve the web application and the REST API")
    add_server_options(serve)
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="server processes (default: 1; more need PostgreSQL and Redis)")
    serve.set_defaults(handler=run_serve)


def add_server_options(parser: argparse.ArgumentParser, port: int = 8000) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"the port to listen on (default: {port})")


def run_serve(ctx: Context) -> int:
    workers = ctx.args.workers
    if workers < 1:
        raise InvalidRequest(f"--workers must be at least 1, got {workers}", code="cli.bad_workers")
    if workers > 1 and (ctx.settings.is_embedded_database or ctx.settings.redis_url is None):
        raise InvalidRequest("several workers share state through PostgreSQL and Redis: set RAPPORT_DATABASE_URL "
                             "and RAPPORT_REDIS_URL, or serve with one worker", code="cli.bad_workers")
    ctx.app.orgs.setup()  # the platform tables exist before the server processes start
    serve(ctx, workers=workers)
    return 0


def serve(ctx: Context, *, workers: int = 1) -> None:
    """Run uvicorn on ``--host``/``--port`` until interrupted; the server processes read the
    same settings (the ``--data-dir`` of this command included)."""
    os.environ["RAPPORT_DATA_DIR"] = str(ctx.settings.data_dir)
    ctx.close()  # the server builds its own app, in each of its processes
    print(f"serving Rapport on http://{ctx.args.host}:{ctx.args.port}/api/v1 (Ctrl+C stops)", flush=True)
    uvicorn.run(APP, factory=True, host=ctx.args.host, port=ctx.args.port, workers=workers,
                log_level="info", access_log=False)
