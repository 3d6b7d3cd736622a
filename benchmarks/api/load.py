"""The loopback load generator of (h): ``wrk`` when it is installed, else httpx's async client.

Either way it runs in processes of its own, keeps ``concurrency`` requests in flight over
kept-alive connections (each connection sends its next request when the answer to the last
has arrived), discards the first ``warmup`` seconds and counts every answer of the next
``duration`` seconds. Any status other than 2xx, and any socket error or timeout, is an error.
The generator's CPU time while measuring is reported (1.0 = a whole core), so a generator
that is itself the bottleneck shows.

``wrk`` (C, epoll; ``apt-get install wrk``) is preferred: httpx 0.28 spends about 2 ms of CPU
per request on this machine (its pool scans every connection per request, and httpcore
retries a failing ``import sniffio`` on every request), so even two httpx processes cannot
keep one uvicorn worker busy, while one wrk thread needs a few percent of a core. The httpx
path remains for machines without wrk: ``processes`` processes, each task with a client of
its own.

The requests are the same for both apps: creates of realistic deals (bodies made here,
seeded), reads of random ids from the loaded rows, and a first page of 50 over a filter (one
stage, amount > 1,000) sorted by amount descending, the stage drawn from the six.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

DEALS = "/api/v1/records/deal"
LIST_FIELDS = "name,amount,stage,close_date,account"
STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
CREATE_BODIES = 5_000  # distinct create bodies, drawn at random
TIMEOUT = 60  # seconds before a request counts as timed out
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Measured:
    """One scenario against one server."""

    generator: str  # "wrk" or "httpx"
    requests: int  # answered with 2xx while measuring
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator_cpu: list[float]  # per process: CPU seconds / measured seconds (1.0 = one core busy)
    server_cpu: float  # the server's CPU seconds / measured seconds, all its threads
    error_samples: list[str]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "httpx"


def requests_of(scenario: str, deal_ids: tuple[str, ...], account_ids: tuple[str, ...],
                seed: int) -> list[tuple[str, str, str | None]]:
    """The scenario's ``(method, path, body)`` to draw from at random."""
    if scenario == "read":
        return [("GET", f"{DEALS}/{deal_id}", None) for deal_id in deal_ids]
    if scenario == "list":
        return [("GET", f"{DEALS}?" + urlencode({
            "filter": json.dumps({"and": [{"field": "stage", "op": "eq", "value": stage},
                                          {"field": "amount", "op": "gt", "value": 1000}]}),
            "sort": "-amount", "limit": "50", "fields": LIST_FIELDS}), None) for stage in STAGES]
    if scenario != "create":
        raise ValueError(f"unknown scenario {scenario!r}; use create, read or list")
    rng = random.Random(seed)
    return [("POST", DEALS, json.dumps({
        "name": f"API deal {seed}-{number:05d}", "account": rng.choice(account_ids),
        "amount": rng.randrange(10_000, 10_000_000) / 100, "stage": rng.choice(STAGES),
        "close_date": (date(2025, 1, 1) + timedelta(days=rng.randrange(730))).isoformat(),
    })) for number in range(CREATE_BODIES)]


def measure(scenario: str, base_url: str, token: str, *, server_pid: int, concurrency: int, warmup: float,
            duration: float, deal_ids: tuple[str, ...], account_ids: tuple[str, ...], seed: int,
            processes: int = 2) -> Measured:
    """Load the server at ``base_url`` (process ``server_pid``) with the scenario's requests."""
    requests = requests_of(scenario, deal_ids, account_ids, seed)
    with tempfile.TemporaryDirectory(prefix="rapport-load-") as folder:
        if shutil.which("wrk"):
            return _wrk(Path(folder), requests, base_url, token, server_pid, concurrency, warmup, duration)
        return _httpx(Path(folder), requests, base_url, token, server_pid, concurrency, warmup, duration,
                      processes, seed)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- wrk -----------------------------------------------------------------------------------

_WRK_SCRIPT = """
local requests = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
function init(args)
  math.randomseed(seed)
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines("%(requests)s") do
    local method, path, body = line:match("^(%%S+) (%%S+) ?(.*)$")
    if body == "" then body = nil end
    table.insert(requests, wrk.format(method, path, nil, body))
  end
  bad, sample = 0, ""
end
function request()
  return requests[math.random(#requests)]
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  end
end
function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad")
    if sample == "" then sample = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format('@@{"requests": %%d, "seconds": %%f, "non2xx": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d, "sample": "%%s"}\\n', summary.requests, summary.duration / 1e6, bad,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    sample:gsub('[%%c"\\\\]', " ")))
end
"""


def _wrk(folder: Path, requests: list[tuple[str, str, str | None]], base_url: str, token: str, server_pid: int,
         concurrency: int, warmup: float, duration: float) -> Measured:
    lines = folder / "requests.txt"
    lines.write_text("".join(f"{method} {path} {body or ''}\n" for method, path, body in requests))
    script = folder / "load.lua"
    script.write_text(_WRK_SCRIPT % {"token": token, "requests": lines})
    _run_wrk(script, base_url, concurrency, warmup)  # warm-up, not counted
    server_before = process_cpu_seconds(server_pid)
    report, cpu = _run_wrk(script, base_url, concurrency, duration)
    server_cpu = process_cpu_seconds(server_pid) - server_before
    errors = report["non2xx"] + report["socket_errors"]
    return Measured("wrk", report["requests"] - report["non2xx"], errors, report["seconds"],
                    report["p50_us"] / 1000, report["p99_us"] / 1000, [cpu / report["seconds"]],
                    server_cpu / report["seconds"], [report["sample"]] if errors else [])


def _run_wrk(script: Path, base_url: str, concurrency: int, seconds: float) -> tuple[dict[str, Any], float]:
    """wrk's report, and the CPU seconds it used."""
    command = ["wrk", "--threads", "1", "--connections", str(concurrency), "--duration", f"{round(seconds)}s",
               "--timeout", f"{TIMEOUT}s", "--script", str(script), base_url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    reports = [line[2:] for line in out.splitlines() if line.startswith("@@")]
    if process.returncode != 0 or not reports:
        raise RuntimeError(f"wrk failed (exit {process.returncode}): {out[-800:]}")
    return json.loads(reports[0]), usage.ru_utime + usage.ru_stime


# -- httpx, where wrk is missing ------------------------------------------------------------

def _httpx(folder: Path, requests: list[tuple[str, str, str | None]], base_url: str, token: str, server_pid: int,
           concurrency: int, warmup: float, duration: float, processes: int, seed: int) -> Measured:
    import time

    start_at = time.time() + 3.0  # time for the processes to start
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    running = []
    for index, share in enumerate(shares):
        path = folder / f"load-{index}.json"
        path.write_text(json.dumps({"base_url": base_url, "token": token, "concurrency": share,
                                    "start_at": start_at, "warmup": warmup, "duration": duration,
                                    "seed": seed * 100 + index, "requests": requests}))
        running.append(subprocess.Popen([sys.executable, "-m", "benchmarks.api.load", str(path)], cwd=ROOT,
                                        stdout=subprocess.PIPE))
    time.sleep(max(start_at + warmup - time.time(), 0))
    server_before = process_cpu_seconds(server_pid)
    reports = []
    for process in running:
        out, _ = process.communicate(timeout=start_at - time.time() + warmup + duration + 2 * TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"a load generator failed (exit {process.returncode})")
        reports.append(json.loads(out))
    server_cpu = process_cpu_seconds(server_pid) - server_before  # to the last answer: a little over `duration`
    latencies = [ms for report in reports for ms in report["latencies_ms"]] or [0.0]
    return Measured("httpx", sum(len(r["latencies_ms"]) for r in reports), sum(r["errors"] for r in reports),
                    duration, statistics.median(latencies), statistics.quantiles(latencies, n=100)[-1],
                    [r["cpu_s"] / duration for r in reports], server_cpu / duration,
                    [sample for r in reports for sample in r["error_samples"]][:5])


def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    """One httpx generator process: ``concurrency`` tasks, each with a client (and connection) of its own."""
    import asyncio
    import time

    import httpx

    rng = random.Random(spec["seed"])
    requests = spec["requests"]
    counted_from = spec["start_at"] + spec["warmup"]
    stop_at = counted_from + spec["duration"]
    latencies: list[float] = []
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"}

    async def task() -> int:
        failed = 0
        async with httpx.AsyncClient(base_url=str(spec["base_url"]), headers=headers, timeout=TIMEOUT,
                                     limits=httpx.Limits(max_connections=1)) as client:
            while time.time() < stop_at:
                method, path, body = rng.choice(requests)
                started = time.perf_counter()
                response = await client.request(method, path, content=body)
                elapsed = time.perf_counter() - started
                if not counted_from <= time.time() < stop_at:
                    continue
                if 200 <= response.status_code < 300:
                    latencies.append(elapsed * 1000)
                else:
                    failed += 1
                    if len(errors) < 5:
                        errors.append(f"{response.status_code} {method} {path}: {response.text[:300]}")
        return failed

    async def cpu_while_counting() -> float:
        await asyncio.sleep(max(counted_from - time.time(), 0))
        before = time.process_time()
        await asyncio.sleep(max(stop_at - time.time(), 0))
        return time.process_time() - before

    async def main() -> dict[str, Any]:
        await asyncio.sleep(max(spec["start_at"] - time.time(), 0))
        cpu = asyncio.create_task(cpu_while_counting())
        failed = await asyncio.gather(*(task() for _ in range(spec["concurrency"])))
        return {"latencies_ms": latencies, "errors": sum(failed), "error_samples": errors, "cpu_s": await cpu}

    return asyncio.run(main())


if __name__ == "__main__":
    print(json.dumps(_generate(json.loads(Path(sys.argv[1]).read_text()))))
