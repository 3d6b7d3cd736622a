"""The pool of pre-started sandbox workers, and the host's side of a run.

``WorkerPool(size, limits)`` starts ``size`` workers (:mod:`rapport.sandbox.worker`) at once;
:meth:`WorkerPool.run` sends one ``run`` message to a free worker and converses with it until
its ``done``:

- each ``call`` the script makes is answered by ``on_call(fn, args)`` **in the calling
  thread**, so data operations run in the caller's transaction. Its return value goes back as
  the ``result``; a :class:`RapportError` it raises goes back as an ``error`` the script sees
  (final when its code is a ``sandbox.limit.*``); any other exception ends the run (the script
  gets a final error) and is re-raised once the worker has answered ``done``;
- a ``run`` made from inside ``on_call`` (a trigger fired by the script's own write) goes to
  the worker this thread is already talking to, which runs it re-entrantly, within what the
  run it is nested in has left of its CPU and wall time (the outer run's CPU counts the
  nested run's, but is not checked while it waits for the call's answer);
- wall time is enforced with a deadline on every wait, CPU time by reading the worker's CPU
  use every ``cpu_check_interval_s`` while waiting. A worker past either limit, one that
  crashed, broke the protocol or ran out of memory is killed (SIGKILL) and replaced at once
  (the new process starts while the caller handles the error), and the run raises
  :class:`SandboxLimit` or :class:`SandboxCrash`. Script errors are not exceptions here: they
  come back as a ``done`` with ``"outcome": "error"``.

Workers are recycled after ``max_runs_per_worker`` runs, or when one has grown past half its
memory limit. Acquiring a free worker waits at most ``acquire_timeout_s``
(:class:`SandboxUnavailable`). :meth:`WorkerPool.close` kills every worker. A pool belongs to
the process that made it: used after a ``fork``, it starts fresh workers of its own.
"""

from __future__ import annotations

import itertools
import logging
import os
import pwd
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from rapport.platform.errors import RapportError
from rapport.sandbox._conversation import Conversation, SandboxCrash, SandboxLimit
from rapport.sandbox._process import WorkerConfig, WorkerGone, WorkerProcess, WorkerStartFailed, WriteTimeout
from rapport.sandbox.errors import SandboxUnavailable
from rapport.sandbox.protocol import MAX_FRAME_BYTES, FrameTooLarge, ProtocolError, is_final

__all__ = ["PoolLimits", "SandboxCrash", "SandboxLimit", "WorkerPool"]

LOG = logging.getLogger("rapport.sandbox")
OnCall = Callable[[str, dict[str, Any]], Any]
#: the least address space a worker can start and run scripts in
MIN_MEMORY_BYTES = 48 * 1024 * 1024
#: the answer to a call when the host failed serving it: the run stops, the host's error is re-raised
_HOST_FAILED = {"op": "error", "code": "sandbox.host_error", "final": True,
                "message": "the host failed serving a data call; the run is stopped"}
UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_ID = 65534


@dataclass(frozen=True)
class PoolLimits:
    """The limits of the pool's workers and of waiting for them."""

    memory_bytes: int = 256 * 1024 * 1024
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_runs_per_worker: int = 1_000
    acquire_timeout_s: float = 10.0
    start_timeout_s: float = 10.0
    cpu_check_interval_s: float = 0.02

    def __post_init__(self) -> None:
        if self.memory_bytes < MIN_MEMORY_BYTES:
            raise ValueError(f"a sandbox worker needs at least {MIN_MEMORY_BYTES:,} bytes of memory to start; "
                             f"{self.memory_bytes:,} is too little (setting sandbox.limit.memory)")
        if self.max_runs_per_worker < 1:
            raise ValueError(f"max_runs_per_worker must be at least 1, not {self.max_runs_per_worker}")


class WorkerPool:
    """Pre-started sandbox workers; see the module docstring."""

    def __init__(self, size: int, limits: PoolLimits | None = None) -> None:
        if size < 1:
            raise ValueError(f"a sandbox worker pool needs at least 1 worker, not {size}")
        self.size = size
        self.limits = limits or PoolLimits()
        self._run_ids = itertools.count(1)
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._local = threading.local()
        self._closed = False
        self._idle: list[WorkerProcess] = []
        self._workers: set[WorkerProcess] = set()
        self._dir = ""
        self._user = _unprivileged_user() if os.geteuid() == 0 else None
        with self._cond:
            self._top_up()

    # -- running -----------------------------------------------------------------------------
    def run(self, message: Mapping[str, Any], on_call: OnCall, timeout_s: float,
            cpu_limit_ms: float) -> dict[str, Any]:
        """Run a script and return the worker's ``done`` message.

        ``message`` is a ``run`` message; the pool fills in ``op``, a ``run_id`` if it has none,
        ``limits.cpu_ms`` (at most ``cpu_limit_ms``) and ``limits.memory_bytes`` (at most the
        pool's). A nested run gets at most what its outer run has left. Raises
        :class:`SandboxLimit`, :class:`SandboxCrash`, :class:`SandboxUnavailable`, or what
        ``on_call`` raised."""
        if os.getpid() != self._pid:
            self._start()  # forked: the parent's workers are not ours to talk to
        #: the runs this thread is in, innermost last (a nested run is made from ``on_call``)
        stack: list[Conversation] = self._local.__dict__.setdefault("stack", [])
        outer = stack[-1] if stack else None
        worker = outer.worker if outer is not None else self._acquire()
        if worker.dead and worker.death is not None:
            raise worker.death
        if outer is not None:
            cpu_limit_ms, timeout_s = _within(outer, cpu_limit_ms, timeout_s)
        run = dict(message, op="run", run_id=str(message.get("run_id") or f"{self._pid}-{next(self._run_ids)}"))
        limits = dict(run.get("limits") or {})
        cpu_ms = limits.get("cpu_ms")
        limits["cpu_ms"] = min(cpu_ms, cpu_limit_ms) if isinstance(cpu_ms, (int, float)) and cpu_ms > 0 \
            else cpu_limit_ms
        memory = limits.get("memory_bytes")
        limits["memory_bytes"] = min(memory, self.limits.memory_bytes) if isinstance(memory, int) and memory > 0 \
            else self.limits.memory_bytes
        run["limits"] = limits
        try:
            return self._converse(worker, run, on_call, timeout_s, cpu_limit_ms, stack)
        finally:
            if outer is None:
                self._release(worker)

    def _converse(self, worker: WorkerProcess, run: dict[str, Any], on_call: OnCall, timeout_s: float,
                  cpu_limit_ms: float, stack: list[Conversation]) -> dict[str, Any]:
        started = time.monotonic()
        talk = Conversation(worker, str(run.get("script")), run["run_id"], started, started + timeout_s,
                             worker.cpu_ms() or 0.0, cpu_limit_ms, timeout_s, run["limits"]["memory_bytes"])
        stack.append(talk)
        try:
            return self._talk(talk, run, on_call)
        finally:
            stack.pop()

    def _talk(self, talk: Conversation, run: dict[str, Any], on_call: OnCall) -> dict[str, Any]:
        worker, cpu_limit_ms = talk.worker, talk.cpu_limit_ms
        self._send(talk, run)
        interval = self.limits.cpu_check_interval_s
        next_check = talk.started + interval
        while True:
            now = time.monotonic()
            if now >= next_check:
                if talk.cpu_ms() > cpu_limit_ms:
                    self._stop(talk, talk.cpu_limit())
                next_check = now + interval
            if now >= talk.deadline:
                self._stop(talk, talk.wall_limit())
            try:
                message = worker.receive(min(talk.deadline, next_check) - now)
            except WorkerGone:
                self._stop(talk, self._death(talk))
            except ProtocolError as error:
                self._stop(talk, talk.crash(f"it broke the protocol ({error})"))
            if message is None:
                continue
            op = message.get("op")
            if op == "done" and message.get("run_id") == talk.run_id:
                return self._finish(talk, message)
            if op == "call":
                self._send(talk, self._answer(talk, message, on_call) if talk.host_failure is None
                           else _HOST_FAILED)
                continue
            self._stop(talk, talk.crash(f"it broke the protocol (unexpected message {op!r})"))

    def _answer(self, talk: Conversation, message: dict[str, Any], on_call: OnCall) -> dict[str, Any]:
        fn = str(message.get("fn"))
        args = message.get("args")
        try:
            value = on_call(fn, args if isinstance(args, dict) else {})
        except RapportError as error:
            if talk.worker.dead:
                raise  # a nested run on this same worker killed it
            return {"op": "error", "code": error.code, "message": error.message, "final": is_final(error.code)}
        except BaseException as error:  # noqa: B036 — a host failure: end the run, then re-raise
            if talk.worker.dead:
                raise
            talk.host_failure = error
            return _HOST_FAILED
        if talk.worker.dead and talk.worker.death is not None:
            raise talk.worker.death
        return {"op": "result", "value": value}

    def _send(self, talk: Conversation, message: dict[str, Any]) -> None:
        try:
            talk.worker.send(message, talk.deadline)
        except FrameTooLarge as error:
            if message["op"] != "result":
                raise SandboxLimit("sandbox.message_too_large", f"script '{talk.script}': {error}",
                                   script=talk.script, limit=error.max_bytes, cpu_ms=0.0,
                                   wall_ms=talk.wall_ms()) from None
            self._send(talk, {"op": "error", "code": "sandbox.message_too_large", "message": str(error)})
        except (TypeError, ValueError) as error:
            if message["op"] != "result":  # the host's own message: nothing was sent, the worker is idle
                raise
            talk.host_failure = error  # on_call returned something JSON cannot hold: the script is told
            self._send(talk, _HOST_FAILED)
        except WriteTimeout:
            self._stop(talk, talk.wall_limit())
        except WorkerGone:
            self._stop(talk, self._death(talk))

    def _finish(self, talk: Conversation, done: dict[str, Any]) -> dict[str, Any]:
        talk.worker.runs += 1
        error = done.get("error") or {}
        if done.get("outcome") == "error" and error.get("type") == "MemoryError":
            self._stop(talk, talk.memory_limit(error.get("line")))
        rss = done.get("max_rss_bytes")
        if isinstance(rss, int) and rss > self.limits.memory_bytes // 2:  # a big heap stays big: start afresh
            talk.worker.retire = True
        if talk.host_failure is not None:
            raise talk.host_failure
        return done

    # -- stopping ----------------------------------------------------------------------------
    def _stop(self, talk: Conversation, error: Exception) -> NoReturn:
        """Kill and replace the worker, then raise ``error``."""
        talk.worker.death = error
        self._discard(talk.worker)
        raise error

    def _death(self, talk: Conversation) -> Exception:
        if talk.worker.death is not None:
            return talk.worker.death
        talk.cpu_ms()
        talk.worker.kill()  # reap it, to learn how it ended
        if talk.worker.killed_by(signal.SIGXCPU):
            return talk.cpu_limit()
        return talk.crash(talk.worker.exit_description())

    # -- workers -----------------------------------------------------------------------------
    def _top_up(self) -> None:
        """Start workers until there are ``size`` (call holding the lock); ``OSError`` if the
        system cannot start a process."""
        while len(self._workers) < self.size and not self._closed:
            worker = WorkerProcess(self._worker_config())
            self._workers.add(worker)
            self._idle.append(worker)
            self._cond.notify()

    def _worker_config(self) -> WorkerConfig:
        """How to start a worker, in an empty read-only directory (made again if a cleaner of
        temporary files removed it)."""
        if not self._dir or not os.path.isdir(self._dir):
            self._dir = tempfile.mkdtemp(prefix="rapport-sandbox-")
            os.chmod(self._dir, 0o555)  # empty, and nobody may write to it
        return WorkerConfig(self.limits.memory_bytes, self.limits.max_frame_bytes, self._dir, self._user)

    def _acquire(self) -> WorkerProcess:
        deadline = time.monotonic() + self.limits.acquire_timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxCrash("the sandbox worker pool is closed")
                try:
                    self._top_up()
                except OSError as error:
                    if not self._idle:
                        raise SandboxCrash(f"could not start a sandbox worker: {error}") from None
                worker = self._pick_idle()
                if worker is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxUnavailable(
                        f"all {self.size} sandbox workers stayed busy for {self.limits.acquire_timeout_s:g} s; "
                        "try again, or raise the setting sandbox_workers")
                self._cond.wait(remaining)
        try:
            worker.wait_ready(self.limits.start_timeout_s)
        except WorkerStartFailed as error:
            self._discard(worker)
            raise SandboxCrash(f"a sandbox worker failed to start: {error}") from None
        return worker

    def _pick_idle(self) -> WorkerProcess | None:
        """The most recently used ready worker (its compiled-code cache is warm), else the one
        started first; workers that died while idle are replaced on the way."""
        for worker in [w for w in self._idle if not w.alive()]:
            self._idle.remove(worker)
            self._workers.discard(worker)
            worker.kill()
        try:
            self._top_up()
        except OSError as error:  # reported by _acquire when no worker is left
            LOG.warning("could not start a sandbox worker: %s", error)
        for index in range(len(self._idle) - 1, -1, -1):
            if self._idle[index].poll_ready():
                return self._idle.pop(index)
        return self._idle.pop(0) if self._idle else None

    def _release(self, worker: WorkerProcess) -> None:
        if worker.dead:
            return
        if worker.retire or worker.runs >= self.limits.max_runs_per_worker:
            self._discard(worker)
            return
        with self._cond:
            if self._closed:
                worker.kill()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: WorkerProcess) -> None:
        """Kill a worker and start its replacement (unless the pool is closed)."""
        worker.kill()
        with self._cond:
            if worker in self._idle:
                self._idle.remove(worker)
            if worker in self._workers:
                self._workers.discard(worker)
                try:
                    self._top_up()
                except OSError as error:  # the next acquire tries again, and reports it
                    LOG.warning("could not start a sandbox worker in place of pid %s: %s", worker.pid, error)

    # -- introspection and shutdown ----------------------------------------------------------
    @property
    def directory(self) -> str:
        """The empty, read-only working directory of the workers."""
        return self._dir

    def worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(worker.pid for worker in self._workers)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until every idle worker has started (tests, benchmarks, warm-up)."""
        deadline = time.monotonic() + (timeout_s or self.limits.start_timeout_s)
        with self._cond:
            idle = list(self._idle)
        for worker in idle:
            if not worker.dead:
                try:
                    worker.wait_ready(max(deadline - time.monotonic(), 0.0))
                except WorkerStartFailed as error:
                    self._discard(worker)
                    raise SandboxCrash(f"a sandbox worker failed to start: {error}") from None

    def close(self) -> None:
        """Kill every worker (runs in progress fail with :class:`SandboxCrash`)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
        if os.getpid() == self._pid:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _within(outer: Conversation, cpu_limit_ms: float, timeout_s: float) -> tuple[float, float]:
    """A nested run's CPU limit and timeout: at most what the run it is nested in has left
    (else each level of nesting could spend a whole budget before the outer run is checked)."""
    cpu_left = max(outer.cpu_limit_ms - outer.cpu_ms(), 0.0)
    wall_left = max(outer.deadline - time.monotonic(), 0.0)
    return min(cpu_limit_ms, cpu_left), min(timeout_s, wall_left)


def _unprivileged_user() -> tuple[int, int]:
    """The uid and gid workers drop to when the host runs as root."""
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return UNPRIVILEGED_ID, UNPRIVILEGED_ID
    return entry.pw_uid, entry.pw_gid
