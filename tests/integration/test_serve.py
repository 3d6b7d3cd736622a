"""``rapport serve`` and ``rapport demo`` serve the API over real HTTP (uvicorn in a subprocess)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rapport.platform.app import Rapport
from rapport.platform.settings import Settings

RAPPORT = str(Path(sys.executable).parent / "rapport")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(args: list[str], env: dict[str, str], ready: str = "serving Rapport") -> Iterator[tuple[str, str]]:
    """Start ``rapport ARGS``; yield (base URL, what it printed before serving)."""
    port = _free_port()
    process = subprocess.Popen([RAPPORT, *args, "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    printed = ""
    try:
        assert process.stdout is not None
        while ready not in printed:
            line = process.stdout.readline()
            assert line, f"the server stopped:\n{printed}"
            printed += line
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/me", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        yield base, printed
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_demo_serves_its_org_over_http(tmp_path: Path) -> None:
    args = ["demo", "--data-dir", str(tmp_path / "data"), "--records", "30"]
    with _server(args, {"RAPPORT_DATABASE_URL": "", "RAPPORT_REDIS_URL": ""}) as (base, printed):
        key = re.search(r"Bearer (rk_\S+)'", printed)
        assert key, printed
        deals = httpx.get(f"{base}/records/deal", params={"sort": "-weighted_amount", "limit": "5"},
                          headers={"Authorization": f"Bearer {key.group(1)}"})
        assert deals.status_code == 200 and len(deals.json()["records"]) == 5
        assert deals.headers["x-request-id"]
        assert httpx.get(f"{base}/records/deal").status_code == 401
        site = base.removesuffix("/api/v1")
        home = httpx.get(f"{site}/")
        assert (home.status_code, home.headers["location"]) == (303, "/login?next=/")
        assert '<form method="post" action="/login"' in httpx.get(f"{site}/login").text


def test_serve_serves_every_org_of_the_deployment(settings: Settings, tmp_path: Path) -> None:
    rapport = Rapport(settings)
    try:
        rapport.create_org("served")
        rapport.create_user("served", "ann@served.test", profile="admin")
        _, key = rapport.users.create_key(rapport.orgs.get("served"), "ann@served.test", "t")
    finally:
        rapport.close()
    env = {"RAPPORT_DATABASE_URL": settings.database_url or "", "RAPPORT_REDIS_URL": ""}
    with _server(["serve", "--data-dir", str(settings.data_dir)], env) as (base, _):
        me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["org"]["name"] == "served"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_serve_refuses_workers_it_cannot_run(tmp_path: Path, workers: str) -> None:
    done = subprocess.run([RAPPORT, "serve", "--data-dir", str(tmp_path), "--workers", workers],
                          capture_output=True, text=True, env={**os.environ, "RAPPORT_DATABASE_URL": ""}, timeout=60)
    assert done.returncode == 1 and "[cli.bad_workers]" in done.stderr
