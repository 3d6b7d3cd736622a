"""Browser tests: a real Rapport server on localhost (uvicorn in a thread of the test process)
driven by the system Chromium through Playwright.

Chromium is ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it),
headless, with ``--no-sandbox --disable-gpu --disable-background-networking``. Locally a
missing Chromium or Playwright skips these tests; in CI (``CI=true``) it fails them.

Every page a test visits can be kept as a screenshot with :func:`snap`; they are written to
``artifacts/screenshots/`` (CI keeps that folder as its artifacts; the README names it).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import IN_CI
from tests.support.api import ApiOrg

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """The system Chromium, headless, for the whole test session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class LiveServer:
    """An org's app served over HTTP on 127.0.0.1 by uvicorn, in a thread."""

    def __init__(self, org: ApiOrg) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(org.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="e2e-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.url}/login", timeout=1)
                return self
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server() -> Callable[[ApiOrg], LiveServer]:
    """``live_server(org)``: start serving ``org`` (stopped at the end of the test)."""
    servers: list[LiveServer] = []

    def start(org: ApiOrg) -> LiveServer:
        server = LiveServer(org).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new browser page (own cookies) that fails the test on a JavaScript error."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def snap(page: Any, name: str) -> Path:
    """Keep a full-page screenshot of ``page`` as ``artifacts/screenshots/<name>.png``."""
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
