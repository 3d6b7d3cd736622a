"""The runs log: every script run, with what it used and how it ended, readable per org.

A run is logged whatever becomes of the transaction that ran it — a failed run rolls its
transaction back, and that is exactly the run an admin wants to see. So runs are written
outside it: into the platform-wide table ``script_runs`` (on SQLite a file of its own, so
the org's write lock is never in the way), by a writer thread that inserts what is queued
in batches and so keeps the log off the request's path. :meth:`RunLog.flush` waits for
what is queued so far (not for what other requests queue meanwhile, which under load never
ends); reading flushes first. Runs older than the retention period are pruned.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from rapport.platform.db import Database
from rapport.platform.errors import InvalidRequest
from rapport.platform.ids import new_id
from rapport.platform.sqltypes import UtcDateTime, utcnow

LOG = logging.getLogger("rapport.sandbox")
RUNS = sa.MetaData()
#: characters of a run's log output kept in the runs log
LOG_KEPT = 4_000
OUTCOMES = ("ok", "error", "limit")
PRUNE_EVERY_S = 3_600
BATCH = 500
#: how long a batch of runs waits for more before it is written
WRITE_DELAY_S = 0.5
#: how long a flush waits for the writer (a database that stays locked must not hang a request)
FLUSH_TIMEOUT_S = 10.0

script_runs = sa.Table(
    "script_runs", RUNS,
    sa.Column("id", sa.String(36), primary_key=True),  # UUIDv7: in order of time
    sa.Column("org_id", sa.String(36), nullable=False),
    sa.Column("script", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("object", sa.String(81), nullable=True),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("cpu_ms", sa.Integer, nullable=False),
    sa.Column("queries", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("dml_rows", sa.Integer, nullable=False),
    sa.Column("output_bytes", sa.Integer, nullable=False),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("error_code", sa.String(80), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("line", sa.Integer, nullable=True),
    sa.Column("log", sa.Text, nullable=True),
    sa.Index("ix_script_runs_org", "org_id", "id"),
)


@dataclass(frozen=True)
class Run:
    """One run as logged (``records``: how many records a trigger's run served)."""

    org_id: str
    script: str
    kind: str
    object: str | None
    records: int
    actor: str
    started_at: datetime
    duration_ms: int
    cpu_ms: int
    queries: int
    rows: int
    dml_rows: int
    output_bytes: int
    depth: int
    outcome: str
    error_code: str | None = None
    error: str | None = None
    line: int | None = None
    log: str | None = None


class _Flush:
    """A request to write what was queued before it; :attr:`written` is set once it is."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = threading.Event()


class RunLog:
    def __init__(self, db: Database, retention_days: int = 7) -> None:
        self.db = db
        self.retention = timedelta(days=max(retention_days, 1))
        #: runs to write; a _Flush: write now, and say so; None: write and stop
        self._queue: queue.Queue[dict[str, Any] | _Flush | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    def setup(self) -> None:
        """Create the table where it is missing (the platform schema exists by now)."""
        with self.db.platform.begin() as conn:
            RUNS.create_all(conn)

    def record(self, run: Run) -> None:
        row = dict(vars(run))  # not asdict(): it deep-copies, and this is on every run's path
        row["id"] = new_id()
        if row["log"] is not None:
            row["log"] = row["log"][:LOG_KEPT]
        if row["error"] is not None:
            row["error"] = row["error"][:LOG_KEPT]
        self._start()
        self._queue.put(row)

    def flush(self) -> None:
        """Wait until every run queued so far is written (at most :data:`FLUSH_TIMEOUT_S`)."""
        if self._thread is not None:
            marker = _Flush()
            self._queue.put(marker)
            if not marker.written.wait(FLUSH_TIMEOUT_S):
                LOG.warning("the runs log writer did not catch up within %g s", FLUSH_TIMEOUT_S)

    def page(self, org_id: str, *, script: str | None = None, outcome: str | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The org's runs, newest first, a page of ``limit`` at a time (``cursor``: the
        ``next_cursor`` of the page before)."""
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}",
                                 code="api.bad_parameter")
        self.flush()
        table = script_runs
        query = sa.select(table).where(table.c.org_id == org_id)
        if script is not None:
            query = query.where(table.c.script == script)
        if outcome is not None:
            query = query.where(table.c.outcome == outcome)
        if cursor is not None:
            query = query.where(table.c.id < cursor)
        query = query.order_by(table.c.id.desc()).limit(limit + 1)
        with self.db.platform.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        for row in rows:
            row.pop("org_id")
        return rows, (rows[-1]["id"] if more and rows else None)

    def forget(self, org_id: str) -> None:
        """Delete an org's runs (the org is deleted)."""
        self.flush()
        with self.db.platform.begin() as conn:
            conn.execute(script_runs.delete().where(script_runs.c.org_id == org_id))

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    # -- the writer --------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="rapport-script-runs", daemon=True)
                self._thread.start()

    def _write_loop(self) -> None:
        """Write what is queued in batches: a batch waits up to ``WRITE_DELAY_S`` for more runs
        (one insert and commit for many runs keeps the writer's work off the requests' cores),
        and goes at once when ``flush`` or ``close`` asks."""
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + WRITE_DELAY_S
            while len(batch) < BATCH and isinstance(batch[-1], dict):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            rows = [row for row in batch if isinstance(row, dict)]
            try:
                if rows:
                    self._write(rows)
            except Exception:  # the log must never take the writer down: report and go on
                LOG.exception("could not write %d script runs to the runs log", len(rows))
            for item in batch:
                if isinstance(item, _Flush):
                    item.written.set()
            if batch[-1] is None:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.db.platform.begin() as conn:
            conn.execute(script_runs.insert(), rows)
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                self._pruned_at = time.monotonic()
                conn.execute(script_runs.delete().where(script_runs.c.started_at < utcnow() - self.retention))
