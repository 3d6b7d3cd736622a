"""The sandbox worker: a pre-started, hardened process that runs scripts for the pool.

The host starts it as ``python -I -B -m rapport.sandbox.worker --memory-bytes N
[--max-frame-bytes N] [--user UID:GID]`` with an empty environment, an empty read-only
working directory, stdin and stdout as the protocol pipes and stderr as a pipe it reads only
when the worker fails to start. Before the worker reads any script it:

1. imports everything a run needs (this module's imports: nothing can be opened later) and
   opens ``/proc/self/status`` (to report its peak memory);
2. moves the protocol pipes to fresh descriptors and points 0, 1 and 2 at ``/dev/null``, so
   nothing a script manages to print can reach the protocol;
3. hardens itself (:func:`harden`): clears its environment; when started as root, drops to an
   unprivileged user for good (the host passes ``--user``: the worker changes user itself,
   after its imports, because the interpreter may live where only root can read), after
   making its empty working directory its root directory (``chroot``: no file of the host
   can be named any more); forbids
   gaining privileges (``PR_SET_NO_NEW_PRIVS``) and being traced or read by processes of the
   same user (not dumpable); leaves the host's network (a network namespace of its own, with
   no interface up); sets resource limits: address space (``RLIMIT_AS``), no new
   descriptors (``RLIMIT_NOFILE`` = the ones it has), no child processes or threads
   (``RLIMIT_NPROC`` 0), no file writes (``RLIMIT_FSIZE`` 0), no core dumps; and a low
   recursion limit;
4. says ``ready``; then serves ``run`` messages until the host closes the pipe.

A run (see :mod:`rapport.sandbox.protocol`): compile the code (cached by source hash), build
the script API from the run's kind and inputs (:class:`rapport.sandbox.api.ScriptApi`), execute
the code with the language layer's globals once per execution the API asks for, and answer
``done`` with the API's result or the error, the script line it failed on, and the resources
used. Data calls go to the host as ``call`` messages; while the worker waits for the answer
the host may send a nested ``run`` (a trigger fired by that call), which runs re-entrantly.
Each run gets a soft ``RLIMIT_CPU`` just above its CPU budget as a backstop to the host's own
CPU accounting, and its ``memory_bytes`` as the soft address-space limit.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import resource
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any, BinaryIO, NoReturn

from rapport.sandbox.api import HostError, LimitExceeded, ScriptApi, ScriptError
from rapport.sandbox.language import ScriptCompileError, compile_script, script_globals
from rapport.sandbox.protocol import (
    LIMIT_PREFIX, MAX_FRAME_BYTES, FrameTooLarge, MessageTooDeep, ProtocolError, encode, is_final, receive,
)

RECURSION_LIMIT = 300
COMPILED_CACHE_SIZE = 256
#: seconds of CPU past a run's budget before the kernel stops the worker (the host acts first)
CPU_BACKSTOP_S = 1
#: memory set aside to report a MemoryError
RESERVE_BYTES = 256 * 1024
MESSAGE_CHARS = 2_000
EXIT_PROTOCOL = 3
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True)
class Options:
    memory_bytes: int
    max_frame_bytes: int = MAX_FRAME_BYTES
    user: tuple[int, int] | None = None


def parse_options(argv: list[str]) -> Options:
    values = dict(zip(argv[::2], argv[1::2], strict=True))
    user = values.get("--user")
    uid, gid = (int(part) for part in user.split(":")) if user else (0, 0)
    return Options(memory_bytes=int(values["--memory-bytes"]),
                   max_frame_bytes=int(values.get("--max-frame-bytes", MAX_FRAME_BYTES)),
                   user=(uid, gid) if user else None)


class Channel:
    """The worker's end of the protocol pipes. A broken pipe or a bad frame ends the process
    at once: it must not surface as an exception a script could catch."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO, max_frame_bytes: int) -> None:
        self.reader = reader
        self.writer = writer
        self.max_frame_bytes = max_frame_bytes

    @classmethod
    def take_over_stdio(cls, max_frame_bytes: int) -> Channel:
        """Move the pipes on fds 0 and 1 to fresh fds and point 0 and 1 at /dev/null."""
        read_fd, write_fd = os.dup(0), os.dup(1)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        return cls(os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb"), max_frame_bytes)

    def fds(self) -> list[int]:
        return [self.reader.fileno(), self.writer.fileno()]

    def send_frame(self, frame: bytes) -> None:
        try:
            self.writer.write(frame)
            self.writer.flush()
        except OSError:
            os._exit(0)  # the host is gone

    def send(self, message: Mapping[str, Any]) -> None:
        self.send_frame(encode(message, self.max_frame_bytes))

    def receive(self) -> dict[str, Any]:
        """The host's next message. One the worker is too deep in a script's recursion to
        decode (the frame is read whole, so the stream stays in step) is the script's
        ``RecursionError``, not the host's breach of the protocol."""
        try:
            return receive(self.reader, self.max_frame_bytes)
        except (EOFError, OSError):
            os._exit(0)  # the host closed the pipe: nothing left to do
        except MessageTooDeep:
            raise RecursionError("too deep to read the host's answer") from None
        except ProtocolError:
            os._exit(EXIT_PROTOCOL)

    def violation(self) -> NoReturn:
        os._exit(EXIT_PROTOCOL)


def harden(options: Options, keep_fds: list[int]) -> None:
    """Give up everything a script could abuse; irreversible (see the module docstring)."""
    os.environ.clear()
    _leave_the_network()
    if options.user is not None:
        os.chroot(".")  # as root: the empty working directory becomes the whole file system
        os.chdir("/")
        uid, gid = options.user
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # as root: real, effective and saved ids, so there is no way back
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # no exec can ever raise privileges (set-uid binaries)
    _prctl(PR_SET_DUMPABLE, 0)  # no process of the same user may ptrace it or read its memory
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    open_fds = max([2, *keep_fds]) + 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds, open_fds))
    resource.setrlimit(resource.RLIMIT_AS, (options.memory_bytes, options.memory_bytes))
    sys.setrecursionlimit(RECURSION_LIMIT)


def _leave_the_network() -> None:
    """Move into a network namespace of its own: no interface but a loopback that is down, so
    no connection to the databases, Redis or anything else even if the language layer broke.
    Root may do it directly; another user through a user namespace of its own (where the
    kernel allows unprivileged ones). Where neither is allowed the worker must not start:
    the host's pool reports why."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "cannot leave the host's network (unshare of the network namespace "
                                          "failed: run Rapport as root or allow unprivileged user namespaces)")


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


class PeakMemory:
    """The worker's peak resident memory (``VmHWM``), read through a descriptor opened before
    hardening. Not ``ru_maxrss``: Linux carries that over ``execve`` from the forked host."""

    def __init__(self) -> None:
        self.fd = os.open("/proc/self/status", os.O_RDONLY)

    def bytes(self) -> int:
        status = os.pread(self.fd, 4096, 0)
        start = status.index(b"VmHWM:") + len(b"VmHWM:")
        return int(status[start:status.index(b"kB", start)]) * 1024


@dataclass
class _Run:
    """One run in progress (runs nest when the host sends a run while a call waits)."""

    script: str
    filename: str
    final: HostError | None = None  # a final error from the host: the run fails with it


class Worker:
    """Serves runs over a channel; see the module docstring."""

    def __init__(self, channel: Channel, memory: PeakMemory) -> None:
        self.channel = channel
        self.memory = memory
        self._compiled: OrderedDict[tuple[str, str], CodeType] = OrderedDict()
        self._runs: list[_Run] = []
        self._reserve: bytearray | None = bytearray(RESERVE_BYTES)

    def serve(self) -> None:
        while True:
            message = self.channel.receive()
            if message.get("op") != "run":
                self.channel.violation()
            self.channel.send_frame(self.run(message))

    def run(self, message: Mapping[str, Any]) -> bytes:
        """Run one script; the encoded ``done`` frame."""
        script = str(message.get("script") or "script")
        run = _Run(script, f"<script {script}>")
        limits = message.get("limits") or {}
        started = time.process_time()
        self._runs.append(run)
        saved = _apply_limits(limits)
        try:
            done = self._execute(run, message, limits)
        except MemoryError:  # outside the script: building the API or its result
            self._reserve = None
            done = _failed({"type": "MemoryError", "code": "sandbox.limit.memory",
                            "message": "out of memory", "line": None})
        except Exception as exc:  # a run message the API cannot take: report it, and stay alive
            done = _failed({"type": type(exc).__name__, "code": "sandbox.script_error", "line": None,
                            "message": f"the worker could not run the script: {_message(exc)}"[:MESSAGE_CHARS]})
        finally:
            _restore_limits(saved)
            self._runs.pop()
        done.update(op="done", run_id=message.get("run_id"),
                    cpu_ms=round((time.process_time() - started) * 1000, 3),
                    max_rss_bytes=self.memory.bytes())
        return self._encode_done(done)

    def _execute(self, run: _Run, message: Mapping[str, Any], limits: Mapping[str, Any]) -> dict[str, Any]:
        try:
            code = self._compile(str(message.get("code") or ""), run.filename)
        except ScriptCompileError as compile_error:
            problems = compile_error.problems
            text = "; ".join(f"line {p.line}, column {p.column}: {p.message}" for p in problems)
            return _failed({"type": "ScriptCompileError", "code": "sandbox.compile_error",
                            "message": text[:MESSAGE_CHARS], "line": problems[0].line if problems else None})
        api = ScriptApi(str(message.get("kind") or ""), message.get("inputs") or {}, self.call, limits)
        failure: dict[str, Any] | None = None
        try:
            for names in api.executions():
                exec(code, script_globals(names, final=(LimitExceeded,)))
        except MemoryError as exc:
            self._reserve = None  # room to report it; the host replaces this worker anyway
            failure = self._describe(exc, run.filename, "sandbox.limit.memory")
        except BaseException as exc:  # noqa: B036 — the script's failure, whatever it raised
            failure = self._describe(exc, run.filename, "sandbox.script_error")
        final = api.limit_error or run.final
        if final is not None:  # final whatever the script did with it
            line = _script_line(final.__traceback__, run.filename) or (failure or {}).get("line")
            kind = "LimitExceeded" if final.code.startswith(LIMIT_PREFIX) else "HostError"
            failure = {"type": kind, "code": final.code, "message": str(final.message)[:MESSAGE_CHARS], "line": line}
        outcome: dict[str, Any] = _failed(failure) if failure else {"outcome": "ok", "result": api.result()}
        outcome.update(logs=api.logs, output_bytes=api.output_bytes)
        return outcome

    def call(self, fn: str, args: dict[str, Any]) -> Any:
        """Send a data call to the host and wait for its answer (running nested runs meanwhile)."""
        run = self._runs[-1]
        if run.final is not None:
            raise run.final
        try:
            frame = encode({"op": "call", "fn": fn, "args": args}, self.channel.max_frame_bytes)
        except FrameTooLarge as error:
            raise HostError("sandbox.message_too_large", f"{fn}(): {error}") from None
        self.channel.send_frame(frame)
        while True:
            answer = self.channel.receive()
            op = answer.get("op")
            if op == "result":
                return answer.get("value")
            if op == "error":
                code = str(answer.get("code") or "sandbox.host_error")
                failure = HostError(code, str(answer.get("message") or code))
                if is_final(code, answer.get("final")):
                    run.final = failure
                raise failure
            if op == "run":
                self.channel.send_frame(self.run(answer))
                continue
            self.channel.violation()

    def _compile(self, source: str, filename: str) -> CodeType:
        key = (filename, hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest())
        code = self._compiled.get(key)
        if code is None:
            code = compile_script(source, filename)
            self._compiled[key] = code
            if len(self._compiled) > COMPILED_CACHE_SIZE:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        return code

    def _describe(self, exc: BaseException, filename: str, default_code: str) -> dict[str, Any]:
        code = getattr(exc, "code", None) if isinstance(exc, (HostError, LimitExceeded, ScriptError)) else None
        if isinstance(exc, ScriptError) and isinstance(code, str) and code.startswith(LIMIT_PREFIX):
            code = None  # limits are reported by LimitExceeded alone; a script cannot claim one
        line = _script_line(exc.__traceback__, filename)
        exc.__traceback__ = None  # let go of the script's frames (and what they hold) now
        return {"type": type(exc).__name__, "code": code if isinstance(code, str) else default_code,
                "message": _message(exc), "line": line}

    def _encode_done(self, done: dict[str, Any]) -> bytes:
        try:
            return encode(done, self.channel.max_frame_bytes)
        except (FrameTooLarge, TypeError, ValueError) as error:
            code = "sandbox.message_too_large" if isinstance(error, FrameTooLarge) else "sandbox.script_error"
            text = f"the script's result cannot be sent to the host: {error}"
            failed = {key: done.get(key) for key in ("op", "run_id", "cpu_ms", "max_rss_bytes", "output_bytes")}
            failed.update(_failed({"type": type(error).__name__, "code": code, "message": text[:MESSAGE_CHARS],
                                   "line": None}), logs=[])
            return encode(failed, self.channel.max_frame_bytes)


def _failed(error: dict[str, Any]) -> dict[str, Any]:
    return {"outcome": "error", "error": error}


def _script_line(tb: TracebackType | None, filename: str) -> int | None:
    """The line of the innermost frame of the script in a traceback."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # e.g. an int too long to print
        text = ""
    if isinstance(exc, RecursionError):
        text = f"too deep: recursion passed the sandbox's limit of about {RECURSION_LIMIT} calls"
    return (text or type(exc).__name__)[:MESSAGE_CHARS]


_Saved = tuple[tuple[int, int], tuple[int, int]]


def _apply_limits(limits: Mapping[str, Any]) -> _Saved:
    """This run's soft CPU and address-space limits; the previous ones, to restore after."""
    saved = (resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_AS))
    cpu_ms = limits.get("cpu_ms")
    if isinstance(cpu_ms, (int, float)) and cpu_ms > 0:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_ms / 1000) + CPU_BACKSTOP_S
        hard = saved[0][1]
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    memory = limits.get("memory_bytes")
    if isinstance(memory, int) and 0 < memory < saved[1][1]:
        resource.setrlimit(resource.RLIMIT_AS, (memory, saved[1][1]))
    return saved


def _restore_limits(saved: _Saved) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, saved[0])
    resource.setrlimit(resource.RLIMIT_AS, saved[1])


def main(argv: list[str]) -> None:
    options = parse_options(argv)
    channel = Channel.take_over_stdio(options.max_frame_bytes)
    memory = PeakMemory()
    harden(options, [*channel.fds(), memory.fd])  # a failure is reported on stderr, which the host reads
    os.dup2(0, 2)  # fd 0 is /dev/null by now; no new file can be opened any more
    channel.send({"op": "ready", "pid": os.getpid()})
    Worker(channel, memory).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
