"""The sandbox worker pool: runs, data calls, nested runs, limits, crashes and the hardening
of its worker processes (inspected from the host through /proc)."""

from __future__ import annotations

from decimal import Decimal

import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rapport.platform.errors import NotFound, RapportError
from rapport.sandbox._process import WorkerConfig, WorkerProcess, WorkerStartFailed
from rapport.sandbox.errors import SandboxUnavailable
from rapport.sandbox.pool import PoolLimits, SandboxCrash, SandboxLimit, WorkerPool

MEMORY = 192 * 1024 * 1024
#: how fast a pool must answer again after a worker was killed and replaced
RECOVERY_S = 2.0


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2, PoolLimits(memory_bytes=MEMORY)) as pool:
        pool.wait_ready()
        yield pool


def no_calls(fn: str, args: dict[str, Any]) -> Any:
    raise AssertionError(f"unexpected call {fn}({args})")


def action(code: str, script: str = "deal.test", **inputs: Any) -> dict[str, Any]:
    return {"script": script, "code": code, "kind": "action",
            "inputs": {"object": "deal", "record": {"id": "1", "name": "Acme"}, "request": {}, **inputs}}


def run(pool: WorkerPool, code: str, on_call: Callable[[str, dict[str, Any]], Any] = no_calls, *,
        timeout_s: float = 10.0, cpu_limit_ms: float = 5_000, script: str = "deal.test") -> dict[str, Any]:
    return pool.run(action(code, script), on_call, timeout_s=timeout_s, cpu_limit_ms=cpu_limit_ms)


def response(done: dict[str, Any]) -> Any:
    assert done["outcome"] == "ok", done
    return done["result"]["response"]


def assert_healthy(pool: WorkerPool) -> None:
    """The pool answers a trivial run again, quickly."""
    started = time.monotonic()
    assert response(run(pool, "respond(6 * 7)")) == 42
    assert time.monotonic() - started < RECOVERY_S


# -- runs and calls ----------------------------------------------------------------------------
def test_a_run_returns_the_scripts_result_and_what_it_used(pool: WorkerPool) -> None:
    done = run(pool, "log('hello', record['name'])\nrespond({'greeting': 'hi ' + record['name']})")
    assert done["op"] == "done" and done["outcome"] == "ok"
    assert done["result"]["response"] == {"greeting": "hi Acme"}
    assert done["logs"] == ["hello Acme"]
    assert done["output_bytes"] == len("hello Acme") + 1
    assert done["cpu_ms"] >= 0 and done["max_rss_bytes"] > 1024 * 1024


def test_a_before_save_trigger_runs_once_per_record_of_the_batch(pool: WorkerPool) -> None:
    message = {"script": "deal.shout", "kind": "before_save", "code": "record['name'] = record['name'].upper()",
               "inputs": {"object": "deal", "records": [{"name": "a"}, {"name": "B"}, {"name": "c"}],
                          "olds": [None, None, None]}}
    done = pool.run(message, no_calls, timeout_s=10, cpu_limit_ms=1000)
    assert done["result"]["records"] == [{"index": 0, "changes": {"name": "A"}},
                                         {"index": 2, "changes": {"name": "C"}}]


def test_calls_are_answered_by_on_call_in_the_calling_thread(pool: WorkerPool) -> None:
    seen: list[tuple[str, dict[str, Any], int]] = []

    def on_call(fn: str, args: dict[str, Any]) -> Any:
        seen.append((fn, args, threading.get_ident()))
        if fn == "query":
            return [{"id": "7", "amount": 10}, {"id": "8", "amount": 32}]
        return {"id": "9", **args["values"]}

    code = ("rows = query('deal', {'stage': 'Open'}, ['amount'], limit=2)\n"
            "made = create('task', {'subject': 'call'})\n"
            "respond({'total': sum(r['amount'] for r in rows), 'made': made['id']})")
    assert response(run(pool, code, on_call)) == {"total": 42, "made": "9"}
    assert [(fn, ident) for fn, _, ident in seen] == [("query", threading.get_ident()),
                                                      ("create", threading.get_ident())]
    assert seen[0][1] == {"object": "deal", "filter": {"stage": "Open"}, "fields": ["amount"], "sort": None,
                          "limit": 2}


def test_a_refused_call_reaches_the_script_as_a_script_error_it_may_catch(pool: WorkerPool) -> None:
    def on_call(fn: str, args: dict[str, Any]) -> Any:
        raise NotFound(f"no deal with id '{args['id']}'", code="records.not_found")

    code = ("try:\n"
            "    get('deal', 'x1')\n"
            "except ScriptError as error:\n"
            "    respond('caught: ' + str(error))\n")
    assert response(run(pool, code, on_call)) == "caught: no deal with id 'x1'"

    done = run(pool, "x = 1\nget('deal', 'x1')\n", on_call)
    assert done["outcome"] == "error"
    assert done["error"] == {"type": "ScriptError", "code": "records.not_found",
                             "message": "no deal with id 'x1'", "line": 2}


def test_a_limit_error_from_the_host_is_final_even_if_the_script_catches_it(pool: WorkerPool) -> None:
    calls = []

    def on_call(fn: str, args: dict[str, Any]) -> Any:
        calls.append(fn)
        raise RapportError("the transaction's scripts ran more than 100 queries", code="sandbox.limit.queries")

    code = ("for i in range(3):\n"
            "    try:\n"
            "        query('deal')\n"
            "    except Exception:\n"
            "        pass\n"
            "respond('carried on')\n")
    done = run(pool, code, on_call)
    assert done["outcome"] == "error"
    assert done["error"]["type"] == "LimitExceeded"
    assert done["error"]["code"] == "sandbox.limit.queries"
    assert done["error"]["line"] == 3
    assert calls == ["query"]  # later calls fail in the worker, without asking the host


def test_an_unexpected_host_failure_stops_the_run_and_is_raised_to_the_caller(pool: WorkerPool) -> None:
    def on_call(fn: str, args: dict[str, Any]) -> Any:
        raise KeyError("the database went away")

    with pytest.raises(KeyError, match="the database went away"):
        run(pool, "try:\n    query('deal')\nexcept ScriptError:\n    pass\nquery('deal')\n", on_call)
    assert_healthy(pool)


def test_an_answer_over_the_message_cap_is_refused_to_the_script_not_the_host() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY, max_frame_bytes=64 * 1024)) as small:
        def on_call(fn: str, args: dict[str, Any]) -> Any:
            return [{"text": "x" * 1000} for _ in range(100)]

        code = "try:\n    query('deal')\nexcept ScriptError as error:\n    respond(str(error))\n"
        assert "over the sandbox protocol's cap of 65,536 bytes" in response(run(small, code, on_call))
        done = run(small, "respond('y' * 100000)")
        assert done["outcome"] == "error"
        assert done["error"]["code"] == "sandbox.message_too_large"
        assert response(run(small, "respond('fine')")) == "fine"


def test_script_errors_come_back_with_the_scripts_line(pool: WorkerPool) -> None:
    done = run(pool, "a = 1\nb = 0\nc = a / b\n")
    assert done["outcome"] == "error"
    assert done["error"] == {"type": "ZeroDivisionError", "code": "sandbox.script_error",
                             "message": "division by zero", "line": 3}

    done = run(pool, "def check(v):\n    if v > 1:\n        raise ScriptError('too big')\ncheck(5)\n")
    assert done["error"] == {"type": "ScriptError", "code": "sandbox.script_error", "message": "too big", "line": 3}


def test_a_script_cannot_claim_a_limit_it_did_not_reach(pool: WorkerPool) -> None:
    done = run(pool, "raise ScriptError('stop', 'sandbox.limit.cpu_time')\n")
    assert done["error"] == {"type": "ScriptError", "code": "sandbox.script_error", "message": "stop", "line": 1}


def test_a_run_message_the_worker_cannot_take_is_an_error_not_a_crash(pool: WorkerPool) -> None:
    pool.wait_ready()
    pids = pool.worker_pids()
    message = action("respond(1)")
    message["limits"] = {"output_bytes": "lots"}
    done = pool.run(message, no_calls, timeout_s=5, cpu_limit_ms=1000)
    assert done["outcome"] == "error"
    assert done["error"]["message"].startswith("the worker could not run the script: invalid literal for int()")
    assert pool.worker_pids() == pids


def test_a_run_message_the_host_cannot_encode_is_the_hosts_error_and_leaves_the_worker_alone(
        pool: WorkerPool) -> None:
    with pytest.raises(TypeError):
        pool.run(action("respond(1)", amount=Decimal("1.5")), no_calls, timeout_s=5, cpu_limit_ms=1000)
    assert_healthy(pool)


def test_code_that_does_not_compile_is_reported_with_its_line(pool: WorkerPool) -> None:
    done = run(pool, "x = 1\ny = x._secret\n")
    assert done["outcome"] == "error"
    assert done["error"]["type"] == "ScriptCompileError"
    assert done["error"]["code"] == "sandbox.compile_error"
    assert done["error"]["line"] == 2


def test_deep_recursion_is_a_script_error_and_the_worker_lives_on(pool: WorkerPool) -> None:
    pids = pool.worker_pids()
    done = run(pool, "def f(n):\n    return f(n + 1)\nf(0)\n")
    assert done["outcome"] == "error"
    assert done["error"]["type"] == "RecursionError"
    assert done["error"]["line"] == 2
    assert pool.worker_pids() == pids
    assert_healthy(pool)


def test_a_data_call_from_deep_recursion_is_a_recursion_error_not_a_crash(pool: WorkerPool) -> None:
    """Too deep to decode the host's answer is the script's RecursionError: the worker lives
    on, and its next run (perhaps another org's) reads the stream in step."""
    code = ("def down(n):\n    if n == 0:\n        return get('deal', '1')\n    return down(n - 1)\n"
            "down(request['depth'])\n")
    answer = {"id": "1", "tags": [[[[[["deep"]]]]]]}
    pids = pool.worker_pids()
    outcomes = set()
    for depth in range(270, 300):
        message = action(code, request={"depth": depth})
        done = pool.run(message, lambda fn, args: answer, timeout_s=10, cpu_limit_ms=5000)
        outcomes.add(done["outcome"] if done["outcome"] == "ok" else done["error"]["type"])
        assert response(run(pool, "respond(6 * 7)")) == 42
    assert outcomes == {"ok", "RecursionError"}
    assert pool.worker_pids() == pids


# -- nested runs ---------------------------------------------------------------------------------
def test_nested_runs_go_to_the_worker_the_calling_thread_waits_on() -> None:
    """A trigger fired by a script's own update runs in the same worker, re-entrantly (with one
    worker, a nested run that asked the pool for a free worker would wait in vain)."""
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY, acquire_timeout_s=0.5)) as single:
        depth_seen = []

        def on_call(fn: str, args: dict[str, Any]) -> Any:
            depth = args["values"]["depth"]
            depth_seen.append(depth)
            nested = single.run(action(CHAIN, script=f"deal.level{depth}", request={"depth": depth}), on_call,
                                timeout_s=5, cpu_limit_ms=1000)
            return {"id": "n", "nested": nested["result"]["response"]}

        assert response(single.run(action(CHAIN, request={"depth": 0}), on_call, timeout_s=5, cpu_limit_ms=1000)) == {
            "depth": 0, "below": {"depth": 1, "below": {"depth": 2, "below": {"depth": 3, "below": None}}}}
        assert depth_seen == [1, 2, 3]
        assert len(single.worker_pids()) == 1


CHAIN = """
depth = request['depth']
if depth < 3:
    answer = update('deal', '1', {'depth': depth + 1})
    below = answer['nested']
else:
    below = None
respond({'depth': depth, 'below': below})
"""


def test_a_nested_run_that_is_killed_fails_the_outer_run_too() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY)) as single:
        def on_call(fn: str, args: dict[str, Any]) -> Any:
            return single.run(action("while True:\n    pass\n", script="deal.spin"), no_calls,
                              timeout_s=5, cpu_limit_ms=200)

        with pytest.raises(SandboxLimit) as caught:
            single.run(action("update('deal', '1', {})\n"), on_call, timeout_s=5, cpu_limit_ms=2000)
        assert caught.value.code == "sandbox.limit.cpu_time"
        assert caught.value.script == "deal.spin"
        assert_healthy(single)


def test_a_nested_run_gets_only_what_its_outer_run_has_left() -> None:
    """The outer run's CPU is not checked while it waits for its call, so a nested run asking
    for a budget of its own must not get more than the outer run has left (else each level
    of nesting could spend a whole budget)."""
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY)) as single:
        def on_call(fn: str, args: dict[str, Any]) -> Any:
            return single.run(action("while True:\n    pass\n", script="deal.spin"), no_calls,
                              timeout_s=30, cpu_limit_ms=10_000)

        started = time.monotonic()
        with pytest.raises(SandboxLimit) as caught:
            single.run(action("update('deal', '1', {})\n"), on_call, timeout_s=30, cpu_limit_ms=400)
        assert time.monotonic() - started < 2.0
        assert (caught.value.code, caught.value.script) == ("sandbox.limit.cpu_time", "deal.spin")
        assert caught.value.limit <= 400

        started = time.monotonic()
        with pytest.raises(SandboxLimit) as caught:  # nor more wall time than the outer run has left
            single.run(action("update('deal', '1', {})\n"), on_call, timeout_s=0.3, cpu_limit_ms=10_000)
        assert time.monotonic() - started < 2.0
        assert (caught.value.code, caught.value.script) == ("sandbox.limit.wall_time", "deal.spin")
        assert caught.value.limit <= 300
        assert_healthy(single)


# -- limits, kills and replacements -----------------------------------------------------------
def test_a_run_past_its_wall_time_is_killed_and_its_worker_replaced(pool: WorkerPool) -> None:
    def on_call(fn: str, args: dict[str, Any]) -> Any:
        time.sleep(0.2)
        return []

    before = set(pool.worker_pids())
    started = time.monotonic()
    with pytest.raises(SandboxLimit) as caught:
        run(pool, "while True:\n    query('deal')\n", on_call, timeout_s=0.5, script="deal.slow")
    assert 0.5 <= time.monotonic() - started < 1.5
    assert caught.value.code == "sandbox.limit.wall_time"
    assert str(caught.value).startswith("script 'deal.slow' ran longer than its 500 ms of wall time "
                                        "(sandbox.limit.wall_time)")
    assert set(pool.worker_pids()) != before
    assert_healthy(pool)


@pytest.mark.parametrize("code", [
    "while True:\n    pass\n",
    "x = 10 ** 10 ** 8\n",
    "n = 0\nfor i in range(10 ** 12):\n    n += i\n",
    "x = sum(range(10 ** 12))\n",
])
def test_a_run_past_its_cpu_time_is_killed_and_its_worker_replaced(pool: WorkerPool, code: str) -> None:
    before = set(pool.worker_pids())
    started = time.monotonic()
    with pytest.raises(SandboxLimit) as caught:
        run(pool, code, cpu_limit_ms=300, script="deal.busy")
    assert time.monotonic() - started < 1.5
    assert caught.value.code == "sandbox.limit.cpu_time"
    assert caught.value.cpu_ms > 300
    assert "script 'deal.busy' used more than its 300 ms of CPU time (sandbox.limit.cpu_time)" in str(caught.value)
    assert set(pool.worker_pids()) != before
    assert_healthy(pool)


@pytest.mark.parametrize("code", [
    "x = 'a' * (10 ** 10)\n",
    "x = [0] * (10 ** 9)\n",
    "chunks = []\nwhile True:\n    chunks.append('x' * 10 ** 6)\n",
    "d = {}\nfor i in range(10 ** 9):\n    d[i] = i\n",
])
def test_a_run_out_of_memory_stops_and_its_worker_is_replaced(pool: WorkerPool, code: str) -> None:
    before = set(pool.worker_pids())
    with pytest.raises(SandboxLimit) as caught:
        run(pool, code, script="deal.hog", timeout_s=20, cpu_limit_ms=20_000)
    assert caught.value.code == "sandbox.limit.memory"
    assert str(caught.value).startswith(f"script 'deal.hog' ran out of memory: a worker may use {MEMORY:,} bytes")
    assert set(pool.worker_pids()) != before
    assert_healthy(pool)


def test_the_kernel_stops_a_run_the_host_did_not_check_in_time() -> None:
    """The backstop: each run has a soft RLIMIT_CPU a second above its budget (SIGXCPU)."""
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY, cpu_check_interval_s=60)) as lax:
        started = time.monotonic()
        with pytest.raises(SandboxLimit) as caught:
            run(lax, "while True:\n    pass\n", cpu_limit_ms=100, script="deal.spin")
        assert time.monotonic() - started < 3.5
        assert caught.value.code == "sandbox.limit.cpu_time"
        assert_healthy(lax)


def test_a_run_may_have_less_memory_than_the_pool_allows(pool: WorkerPool) -> None:
    message = action("x = 'a' * (100 * 1024 * 1024)\n", script="deal.small")
    message["limits"] = {"memory_bytes": 64 * 1024 * 1024}
    with pytest.raises(SandboxLimit, match="script 'deal.small' ran out of memory: a worker may use 67,108,864 bytes"):
        pool.run(message, no_calls, timeout_s=10, cpu_limit_ms=5000)
    assert response(run(pool, "x = 'a' * (100 * 1024 * 1024)\nrespond(len(x))")) == 100 * 1024 * 1024


def test_log_output_flooding_stops_at_the_runs_output_limit(pool: WorkerPool) -> None:
    message = action("while True:\n    print('x' * 999)\n", script="deal.chatty")
    message["limits"] = {"output_bytes": 10_000}
    done = pool.run(message, no_calls, timeout_s=10, cpu_limit_ms=5000)
    assert done["outcome"] == "error"
    assert done["error"]["code"] == "sandbox.limit.output"
    assert done["error"]["line"] == 2
    assert len(done["logs"]) == 10 and done["output_bytes"] > 10_000
    assert_healthy(pool)


def test_an_answer_json_cannot_hold_stops_the_run_and_is_raised(pool: WorkerPool) -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        run(pool, "try:\n    query('deal')\nexcept ScriptError:\n    respond(1)\n", lambda fn, args: {1, 2})
    assert_healthy(pool)


def test_a_worker_that_dies_mid_run_is_a_crash_and_is_replaced() -> None:
    outcome: dict[str, BaseException] = {}
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY)) as single:
        def spin() -> None:
            try:
                run(single, "while True:\n    pass\n", timeout_s=20, cpu_limit_ms=20_000, script="deal.victim")
            except BaseException as error:  # noqa: B036
                outcome["error"] = error

        single.wait_ready()
        [victim] = single.worker_pids()
        thread = threading.Thread(target=spin)
        thread.start()
        _wait_until_running(victim)
        os.kill(victim, signal.SIGKILL)
        thread.join(5)
        error = outcome["error"]
        assert isinstance(error, SandboxCrash)
        assert error.code == "sandbox.worker_crashed"
        assert "the sandbox worker running script 'deal.victim' failed: it was killed by SIGKILL" in str(error)
        assert victim not in single.worker_pids()
        assert_healthy(single)


def test_a_worker_that_died_while_idle_is_replaced_before_it_is_used(pool: WorkerPool) -> None:
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    assert_healthy(pool)
    assert_healthy(pool)


def test_workers_start_even_after_their_directory_was_cleaned_away() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY)) as single:
        single.wait_ready()
        old = single.directory
        os.rmdir(old)  # as a cleaner of old temporary files would
        os.kill(single.worker_pids()[0], signal.SIGKILL)
        time.sleep(0.05)
        assert_healthy(single)
        assert single.directory != old
        assert os.readlink(f"/proc/{single.worker_pids()[0]}/cwd") == single.directory


def test_a_worker_that_cannot_start_says_why(tmp_path: Path) -> None:
    config = WorkerConfig(memory_bytes=MEMORY, max_frame_bytes=1024, cwd=str(tmp_path), user=(-2, -2))
    worker = WorkerProcess(config)
    with pytest.raises(WorkerStartFailed, match=r"it exited with status 1: OverflowError: gid is less than minimum"):
        worker.wait_ready(10)
    assert worker.dead


def test_pool_limits_refuse_too_little_memory() -> None:
    with pytest.raises(ValueError, match="a sandbox worker needs at least 50,331,648 bytes of memory to start"):
        PoolLimits(memory_bytes=10_000_000)


def test_a_pool_used_after_a_fork_starts_workers_of_its_own() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY)) as shared:
        shared.wait_ready()
        parent_pids = shared.worker_pids()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through its exit status
            status = 1
            try:
                fresh = not set(parent_pids) & set(shared.worker_pids()) if response(run(shared, "respond(5)")) == 5 \
                    else False
                shared.close()
                status = 0 if fresh else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert shared.worker_pids() == parent_pids
        assert_healthy(shared)


def test_workers_are_recycled_after_their_number_of_runs() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY, max_runs_per_worker=3)) as single:
        pids = []
        for _ in range(7):
            run(single, "respond(1)")
            pids.append(single.worker_pids()[0])
        assert pids[0] == pids[1] != pids[2] == pids[3] == pids[4] != pids[5]


def test_a_run_waits_a_bounded_time_for_a_free_worker() -> None:
    with WorkerPool(1, PoolLimits(memory_bytes=MEMORY, acquire_timeout_s=0.3)) as single:
        single.wait_ready()
        thread = threading.Thread(target=lambda: run(single, "x = 0\nwhile x < 10 ** 7:\n    x += 1\n"))
        thread.start()
        time.sleep(0.1)
        with pytest.raises(SandboxUnavailable, match="all 1 sandbox workers stayed busy for 0.3 s"):
            run(single, "respond(1)")
        thread.join(10)
        assert_healthy(single)


def test_concurrent_runs_from_many_threads(pool: WorkerPool) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                results.append(response(run(pool, f"respond({n} * 100 + {i})")))
        except BaseException as error:  # noqa: B036
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(results) == sorted(n * 100 + i for n in range(6) for i in range(20))


def test_a_closed_pool_kills_its_workers_and_refuses_runs() -> None:
    closing = WorkerPool(2, PoolLimits(memory_bytes=MEMORY))
    closing.wait_ready()
    pids = closing.worker_pids()
    directory = closing.directory
    closing.close()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    assert not Path(directory).exists()
    with pytest.raises(SandboxCrash, match="the sandbox worker pool is closed"):
        run(closing, "respond(1)")


# -- hardening, seen from the host ------------------------------------------------------------
def test_a_worker_has_an_empty_environment_and_an_empty_read_only_working_directory(pool: WorkerPool) -> None:
    for pid in pool.worker_pids():
        assert Path(f"/proc/{pid}/environ").read_bytes() == b""
        cwd = os.readlink(f"/proc/{pid}/cwd")
        assert cwd == pool.directory
        assert os.listdir(cwd) == []
        assert os.stat(cwd).st_mode & 0o777 == 0o555


def test_a_worker_cannot_open_files_start_processes_or_write_files(pool: WorkerPool) -> None:
    for pid in pool.worker_pids():
        limits = _limits(pid)
        assert limits["Max open files"] == ("6", "6")  # 0-2 on /dev/null, 3-4 the protocol pipes, 5 its status
        assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2", "3", "4", "5"]
        assert os.readlink(f"/proc/{pid}/fd/5") == f"/proc/{pid}/status"
        assert limits["Max processes"] == ("0", "0")
        assert limits["Max file size"] == ("0", "0")
        assert limits["Max core file size"] == ("0", "0")
        assert limits["Max address space"] == (str(MEMORY), str(MEMORY))
        assert _status(pid)["NoNewPrivs"] == "1"
        assert os.stat(f"/proc/{pid}/mem").st_uid == 0  # not dumpable: no other process of its user reads it
        assert os.readlink(f"/proc/{pid}/fd/1") == "/dev/null"
        assert os.readlink(f"/proc/{pid}/fd/2") == "/dev/null"


def test_a_worker_has_no_network(pool: WorkerPool) -> None:
    host = os.readlink("/proc/self/ns/net")
    for pid in pool.worker_pids():
        assert os.readlink(f"/proc/{pid}/ns/net") != host  # a network namespace of its own
        interfaces = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
        assert [line.split(":")[0].strip() for line in interfaces] == ["lo"]
        assert Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:] == []  # no sockets of the host's


@pytest.mark.skipif(os.geteuid() != 0, reason="workers change user only when the host runs as root")
def test_a_worker_started_by_root_runs_as_an_unprivileged_user_in_an_empty_root(pool: WorkerPool) -> None:
    for pid in pool.worker_pids():
        status = _status(pid)
        assert set(status["Uid"].split()) == {"65534"}
        assert set(status["Gid"].split()) == {"65534"}
        assert status["Groups"] == ""
        assert os.readlink(f"/proc/{pid}/root") == pool.directory  # chrooted: no host file can be named


def test_the_round_trip_of_a_trivial_run_is_well_under_a_millisecond(pool: WorkerPool) -> None:
    message = {"script": "deal.noop", "kind": "before_save", "code": "record['n'] = 1",
               "inputs": {"object": "deal", "records": [{"n": 1}], "olds": [None]}}
    for _ in range(50):
        pool.run(message, no_calls, timeout_s=5, cpu_limit_ms=1000)
    times = []
    for _ in range(500):
        started = time.perf_counter()
        pool.run(message, no_calls, timeout_s=5, cpu_limit_ms=1000)
        times.append(time.perf_counter() - started)
    median_ms = statistics.median(times) * 1000
    print(f"trivial run round trip: median {median_ms:.3f} ms, p90 {sorted(times)[449] * 1000:.3f} ms")
    assert median_ms < 1.0


# -- helpers -------------------------------------------------------------------------------------
def _limits(pid: int) -> dict[str, tuple[str, str]]:
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): (row[26:47].strip(), row[47:68].strip()) for row in rows}


def _status(pid: int) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: value.strip() for key, value in pairs}


def _wait_until_running(pid: int, timeout_s: float = 5.0) -> None:
    """Wait until worker ``pid`` has used CPU for a while: it is running the spinning script."""
    deadline = time.monotonic() + timeout_s
    first = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        if _cpu_ticks(pid) >= first + 5:
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} did not start running")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
