"""Where a server's time goes: py-spy samples of a running process, summed per function.

``py-spy record --gil`` samples only the thread holding the GIL, so the samples divide the
interpreter's time (one core at most, which is what bounds a uvicorn worker) between the
functions on the stack, and samples / rate is how long the GIL was held. :func:`summary`
turns them into shares and, given the number of requests answered while sampling, into
microseconds of GIL time per request. Work done outside the GIL (SQLite executing a query,
psycopg waiting for PostgreSQL) is not in them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RATE = 200  # samples per second


@dataclass
class Samples:
    stacks: Counter[tuple[str, ...]] = field(default_factory=Counter)  # outermost frame first

    @property
    def total(self) -> int:
        return sum(self.stacks.values())


def available() -> bool:
    return _py_spy() is not None


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def sampling(pid: int, seconds: float) -> Iterator[Samples]:
    """Sample ``pid`` for ``seconds`` while the block runs; the samples are filled in at its end."""
    samples = Samples()
    binary = _py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: `.venv/bin/pip install py-spy`")
    with tempfile.TemporaryDirectory(prefix="rapport-spy-") as folder:
        out = Path(folder) / "stacks.txt"
        process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(RATE),
             "--gil", "--function", "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        yield samples
        _, error = process.communicate(timeout=seconds + 60)
        if process.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed: {error.decode(errors='replace').strip()[-500:]}")
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = tuple(_frame(f) for f in stack.split(";")[2:])  # drop the process and the thread
            samples.stacks[frames] += int(count)


def _frame(raw: str) -> str:
    """``function (/abs/path/pkg/module.py:12)`` → ``pkg/module.py:function``: the path from the
    package root (``rapport/…``, ``benchmarks/…``, a site-package or a standard module)."""
    name, _, where = raw.partition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    for marker in ("/site-packages/", "/lib/python3.", "/work/main/"):
        if marker in path:
            path = path.rpartition(marker)[2]
            if marker == "/lib/python3.":
                path = path.partition("/")[2]
            break
    return f"{path}:{name}"


def _package(frame: str) -> str:
    """Where a frame's code lives, for grouping: ``rapport/runtime/query``, ``sqlalchemy``, ``json``."""
    parts = frame.partition(":")[0].split("/")
    if parts[0] in ("rapport", "benchmarks"):
        return "/".join(parts[:3]) if len(parts) > 3 else "/".join(parts[:-1]) or parts[0]
    return parts[0].removesuffix(".py")


#: frames on every stack of their thread (the server's loop, a worker thread's loop), left out
#: of the inclusive list
_LOOP = ("asyncio/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py", "threading.py",
         "benchmarks/api/server.py", "anyio/_backends/_asyncio.py:WorkerThread.run")
#: the code under test: Rapport, and the ceiling
_APP = ("rapport/", "benchmarks/api/ceiling.py")


#: the server and framework around the app (Starlette's request, response and data structures,
#: and its URL building, which the app calls as a library, are not among them)
_FRAMEWORK = ("uvicorn/", "h11/", "anyio/", "asyncio/", "starlette/", "threading.py", "selectors.py", "queue.py")
_LIBRARY = ("starlette/responses.py", "starlette/requests.py", "starlette/datastructures.py")


def _owner(frames: tuple[str, ...]) -> str:
    """Who a sample's time is charged to: walking out from the running frame, the first app
    function, or — when a server or framework frame comes first — that package."""
    for frame in reversed(frames):
        if frame.startswith(_APP):
            return frame
        if frame.startswith(_FRAMEWORK) and not frame.startswith(_LIBRARY) and ".url_path_for" not in frame:
            return f"(server/framework: {_package(frame)})"
    return "(other)"


def summary(samples: Samples, requests: float, server_cpu_us: float, top: int = 20) -> str:
    """Shares of the interpreter's time, and µs of it per request: by package (self time); by
    the innermost function of the app under test on the stack (its own lines and the library
    code it calls, e.g. SQLAlchemy for a query it runs); the functions by inclusive time,
    without the server's loops; the functions by self time."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    app: Counter[str] = Counter()
    for frames, count in samples.stacks.items():
        for frame in set(frames):
            if not frame.startswith(_LOOP):
                inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
            packages[_package(frames[-1])] += count
            app[_owner(frames)] += count
    total = samples.total or 1
    gil_us = samples.total / RATE * 1e6 / requests  # the GIL held, per request
    lines = [f"{samples.total} samples at {RATE}/s over ~{requests:,.0f} requests: the GIL held {gil_us:,.0f} µs "
             f"per request (the server's CPU time, outside the GIL too, {server_cpu_us:,.0f} µs unprofiled)"]

    def table(title: str, counter: Counter[str], limit: int) -> None:
        lines.append(f"  {title}:")
        for frame, count in counter.most_common(limit):
            share = count / total
            lines.append(f"    {share * 100:5.1f}% {share * gil_us:7.0f} µs  {frame}")

    table("by package (self time)", packages, 15)
    table("charged to the innermost app function (its lines + the libraries it calls)", app, top)
    table(f"top {top + 10} functions by inclusive time", inclusive, top + 10)
    table(f"top {top} functions by self time", own, top)
    return "\n".join(lines)
