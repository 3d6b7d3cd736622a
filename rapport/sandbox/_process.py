"""One sandbox worker process as the host sees it: start, frames with deadlines, CPU, kill.

The host never blocks on a worker without a deadline: its pipe ends are non-blocking and
every read or write waits with ``poll`` (not ``select``, which fails on descriptors past 1023
in a busy server). The CPU a worker has used is read from ``/proc/<pid>/stat`` through a
descriptor opened once at start.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from rapport.sandbox.protocol import FrameReader, ProtocolError, encode

WORKER_MODULE = "rapport.sandbox.worker"
READ_CHUNK = 256 * 1024
#: bytes of a failed worker's stderr kept to explain why it failed
STDERR_BYTES = 8 * 1024
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class WorkerConfig:
    """How to start a worker: its memory limit, frame cap, working directory and user."""

    memory_bytes: int
    max_frame_bytes: int
    cwd: str
    user: tuple[int, int] | None = None

    def argv(self) -> list[str]:
        argv = [sys.executable, "-I", "-B", "-m", WORKER_MODULE, "--memory-bytes", str(self.memory_bytes),
                "--max-frame-bytes", str(self.max_frame_bytes)]
        if self.user is not None:
            argv += ["--user", f"{self.user[0]}:{self.user[1]}"]
        return argv


class WorkerGone(Exception):
    """The worker process ended (its pipe closed) or broke the protocol."""


class WorkerStartFailed(Exception):
    """The worker did not say ``ready``; the message holds what it wrote to stderr."""


class WriteTimeout(Exception):
    """The worker did not take a frame before the deadline."""


class WorkerProcess:
    """A started worker process and the host's ends of its pipes."""

    def __init__(self, config: WorkerConfig) -> None:
        self._popen = subprocess.Popen(
            config.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={}, cwd=config.cwd, close_fds=True, start_new_session=True)
        assert self._popen.stdin and self._popen.stdout and self._popen.stderr
        self.pid = self._popen.pid
        self._to = self._popen.stdin.fileno()
        self._from = self._popen.stdout.fileno()
        os.set_blocking(self._to, False)
        os.set_blocking(self._from, False)
        self._reader = FrameReader(config.max_frame_bytes)
        self._max_frame_bytes = config.max_frame_bytes
        self._readable = select.poll()
        self._readable.register(self._from, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(self._to, select.POLLOUT)
        self._stat_fd: int | None = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY)
        self.ready = False
        self.dead = False
        self.runs = 0
        self.retire = False  # replace it when released (it grew large)
        self.death: Exception | None = None  # the error raised when it was killed mid-run
        self.failure: str | None = None  # why it did not start

    # -- start -------------------------------------------------------------------------------
    def poll_ready(self) -> bool:
        """Whether it has said ``ready`` (without waiting)."""
        if not self.ready and not self.dead and self._popen.poll() is None:
            try:
                self.wait_ready(0.0)
            except WorkerStartFailed:
                return False
        return self.ready

    def wait_ready(self, timeout_s: float) -> None:
        if self.ready:
            return
        if self.failure is not None:
            raise WorkerStartFailed(self.failure)
        gone = False
        try:
            message = self.receive(timeout_s)
        except (WorkerGone, ProtocolError):
            message, gone = None, True
        if message is not None and message.get("op") == "ready":
            self.ready = True
            assert self._popen.stderr
            self._popen.stderr.close()  # the worker has pointed its stderr at /dev/null
            return
        if message is None and not gone:
            if timeout_s == 0:
                raise WorkerStartFailed("not ready yet")
            self.failure = f"no 'ready' within {timeout_s:g} s"
            self.kill()
            raise WorkerStartFailed(self.failure)
        self.failure = self._failure_text(message)
        raise WorkerStartFailed(self.failure)

    def _failure_text(self, message: dict[str, Any] | None) -> str:
        try:  # if it closed its pipe, it is exiting: wait a moment to learn its status
            self._popen.wait(timeout=0 if message is not None else 0.2)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()
        assert self._popen.stderr
        try:  # the process is gone, so this read ends
            text = self._popen.stderr.read(STDERR_BYTES) or b""
        except (OSError, ValueError):
            text = b""
        self.kill()
        got = f"it sent {message!r} instead of 'ready'; " if message else ""
        lines = text.decode("utf-8", "replace").strip().splitlines()
        return f"{got}{self.exit_description()}" + (f": {lines[-1]}" if lines else "")

    # -- frames ------------------------------------------------------------------------------
    def send(self, message: dict[str, Any], deadline: float) -> None:
        """Write one frame; :class:`WriteTimeout` past ``deadline``, :class:`WorkerGone` if the
        pipe is closed. Encoding errors (``TypeError``, ``FrameTooLarge``) come before any byte
        is written."""
        self.write_frame(encode(message, self._max_frame_bytes), deadline)

    def write_frame(self, frame: bytes, deadline: float) -> None:
        view = memoryview(frame)
        while view:
            try:
                written = os.write(self._to, view)
            except BlockingIOError:
                written = 0
            except OSError as error:  # BrokenPipeError, or closed by kill()
                raise WorkerGone(f"the worker's pipe is closed ({error.strerror})") from None
            view = view[written:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WriteTimeout("the worker did not read its message in time")
                self._writable.poll(remaining * 1000)

    def receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The next message, or ``None`` if none came within ``timeout_s``. :class:`WorkerGone`
        when the worker closed its pipe; ``ProtocolError`` for a bad frame."""
        message = self._reader.next_message()
        if message is not None:
            return message
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                chunk = os.read(self._from, READ_CHUNK)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._readable.poll(max(remaining * 1000, 0))
                continue
            except OSError as error:
                raise WorkerGone(f"the worker's pipe is closed ({error.strerror})") from None
            if not chunk:
                raise WorkerGone("the worker closed its pipe")
            self._reader.feed(chunk)
            message = self._reader.next_message()
            if message is not None:
                return message

    # -- state -------------------------------------------------------------------------------
    def cpu_ms(self) -> float | None:
        """CPU time (user + system) the process has used, from /proc (10 ms resolution);
        ``None`` once it is gone."""
        if self._stat_fd is None:
            return None
        try:
            stat = os.pread(self._stat_fd, 1024, 0)
        except OSError:
            return None
        fields = stat[stat.rfind(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / _CLOCK_TICKS

    def alive(self) -> bool:
        return not self.dead and self._popen.poll() is None

    def exit_description(self) -> str:
        code = self._popen.poll()
        if code is None:
            return "it is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"it was killed by {name}"
        return f"it exited with status {code}"

    def killed_by(self, signum: int) -> bool:
        return self._popen.poll() == -signum

    def kill(self) -> None:
        """SIGKILL the process, reap it and close the host's ends of its pipes (idempotent)."""
        if self._popen.poll() is None:
            try:
                self._popen.kill()
            except ProcessLookupError:
                pass
            try:
                self._popen.wait(timeout=5)
            except subprocess.TimeoutExpired:  # stuck in the kernel; it dies when it returns
                pass
        if self.dead:
            return
        self.dead = True
        for stream in (self._popen.stdin, self._popen.stdout, self._popen.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stat_fd is not None:
            os.close(self._stat_fd)
            self._stat_fd = None
