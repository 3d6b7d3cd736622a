"""The two servers of (h): their data, loaded untimed, and uvicorn in a subprocess for each.

:func:`prepare` fills an org ``api`` of the foundation's sales bundle with accounts and deals
through the record service (as the other scenarios do), makes a user and an API key, and
copies the same deal rows into the ceiling's table (a schema ``ceiling`` of the same
PostgreSQL database, or a file ``ceiling.db`` beside Rapport's on SQLite) with a key of its own.
:func:`running` starts one app under uvicorn — one worker, no access log, a free loopback
port — and stops it afterwards. Run as a module, this file is that subprocess:

    python -m benchmarks.api.server rapport|ceiling --port N --data-dir DIR [--database-url URL]

Rapport's side is built as ``rapport serve`` builds it (``create_app`` over a ``Rapport``
from the settings, the request log at INFO on stderr, which goes to a file here), with the
rate limits off and without the embedded job worker (no job runs during the benchmark; its
polling would only add noise).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks.api import ceiling
from benchmarks.data import create_accounts, deal_rows, foundation_bundle, new_org, refresh_statistics
from benchmarks.harness import Bench
from rapport.platform.ids import new_id

ORG = "api"
USER = "bench"
CEILING_SCHEMA = "ceiling"
ROOT = Path(__file__).resolve().parents[2]
COPY_CHUNK = 5_000
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Fixture:
    """Where both apps' data is, and what a client needs to call them."""

    data_dir: Path
    database_url: str | None  # None: SQLite in data_dir
    rapport_token: str
    ceiling_token: str
    deal_ids: tuple[str, ...]  # a sample of the loaded deals, for reads by id
    account_ids: tuple[str, ...]

    @property
    def ceiling_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ceiling.db'}"

    @property
    def ceiling_schema(self) -> str | None:
        return CEILING_SCHEMA if self.database_url else None

    def token(self, app: str) -> str:
        return self.rapport_token if app == "rapport" else self.ceiling_token


def prepare(bench: Bench, deals: int, sample: int = 10_000) -> Fixture:
    """Both tables holding the same ``deals`` rows, and a key for each app (untimed)."""
    org = new_org(bench, ORG, foundation_bundle())
    accounts = create_accounts(org, bench.scale.accounts)
    rows = deal_rows(bench.rng, accounts, deals)
    for start in range(0, deals, bench.scale.bulk_chunk):
        org.records().create_many("deal", rows[start:start + bench.scale.bulk_chunk])
    user = bench.app.create_user(ORG, USER, profile="admin")
    _key, rapport_token = bench.app.users.create_key(bench.app.orgs.get(ORG), USER, "bench")

    settings = bench.app.settings
    fixture = Fixture(Path(settings.data_dir), settings.database_url, rapport_token,
                      f"ck_{secrets.token_urlsafe(32)}", (), tuple(accounts))
    table = org.model().object("deal").table
    ids = _copy_to_ceiling(fixture, user.id, org.location.read, table)
    refresh_statistics(org)  # PostgreSQL: ANALYZE the whole scratch database, the ceiling's schema too
    return replace(fixture, deal_ids=tuple(bench.rng.sample(ids, min(sample, len(ids)))))


def _copy_to_ceiling(fixture: Fixture, user_id: str, read: Any, source: sa.Table) -> list[str]:
    deal, api_keys = ceiling.tables(fixture.ceiling_schema)
    engine = ceiling.make_engine(fixture.ceiling_url)
    try:
        with engine.begin() as conn:
            if fixture.ceiling_schema:
                conn.execute(sa.schema.CreateSchema(fixture.ceiling_schema, if_not_exists=True))
        deal.metadata.create_all(engine)
        with read() as source_conn:
            rows = [dict(row) for row in source_conn.execute(
                sa.select(*(source.c[c.name] for c in deal.c)).order_by(source.c.id)).mappings()]
        with engine.begin() as conn:
            for start in range(0, len(rows), COPY_CHUNK):
                conn.execute(deal.insert(), rows[start:start + COPY_CHUNK])
            account, counters = (ceiling._in(deal.metadata, name) for name in ("account", "counters"))
            conn.execute(account.insert(), [{"id": account_id} for account_id in fixture.account_ids])
            conn.execute(counters.insert().values(name="deal", value=len(rows)))
            conn.execute(api_keys.insert().values(
                id=new_id(), user_id=user_id, revoked_at=None,
                secret_hash=hashlib.sha256(fixture.ceiling_token.encode()).hexdigest()))
    finally:
        engine.dispose()
    return [row["id"] for row in rows]


@dataclass(frozen=True)
class Server:
    app: str
    url: str
    pid: int



@contextmanager
def running(app: str, fixture: Fixture) -> Iterator[Server]:
    """``app`` (``rapport`` or ``ceiling``) serving under uvicorn until the block ends."""
    port = _free_port()
    command = [sys.executable, "-m", "benchmarks.api.server", app, "--port", str(port),
               "--data-dir", str(fixture.data_dir)]
    if fixture.database_url:
        command += ["--database-url", fixture.database_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log_path = fixture.data_dir / f"server-{app}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(app, f"http://127.0.0.1:{port}", process.pid)
    try:
        _wait_ready(server, process, log_path)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: Server, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {server.app} server exited ({process.returncode}); see {log_path}")
        try:
            httpx.get(f"{server.url}/api/v1/records/deal", timeout=2)  # any answer (a 401) means it serves
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the {server.app} server did not answer within {READY_TIMEOUT:.0f} s; see {log_path}")


# -- the subprocess ------------------------------------------------------------------------

def build_app(app: str, data_dir: Path, database_url: str | None) -> Any:
    if app == "ceiling":
        url = database_url or f"sqlite:///{data_dir / 'ceiling.db'}"
        return ceiling.create_app(url, CEILING_SCHEMA if database_url else None)
    from rapport.platform.app import Rapport
    from rapport.platform.settings import Settings
    from rapport.platform.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        rate_limit_key_per_minute=0, rate_limit_org_per_minute=0)
    return create_app(Rapport(settings))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="serve Rapport or the ceiling for benchmark (h)")
    parser.add_argument("app", choices=("rapport", "ceiling"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    application = build_app(args.app, args.data_dir, args.database_url)
    uvicorn.run(application, host="127.0.0.1", port=args.port, workers=1, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
