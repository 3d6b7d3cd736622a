"""What the CLI writes: JSON, small text tables, errors and a progress bar.

Results go to stdout (so they can be piped); errors and progress go to stderr. Every
command that prints JSON prints it the same way: 2-space indent, UTF-8, dates as ISO 8601.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from rapport.platform.errors import RapportError

# What to try next, for errors whose fix is a CLI step; keyed by the error's stable code.
HINTS: dict[str, str] = {
    "orgs.not_found": "`rapport org list` shows the orgs; `rapport org create NAME` makes one",
    "schema.confirmation_required": (
        "re-run with --confirm-data-loss to apply it; the data is moved aside and "
        "`rapport metadata trash` lists it until it is purged"),
    "schema.retention_not_over": "add --force to purge it now",
}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)


def emit_json(value: Any) -> None:
    print(dumps(value))


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Sequence[int] = ()) -> None:
    """A plain aligned table; columns whose index is in ``right`` are right-aligned."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return "  ".join(parts).rstrip()

    print(line(headers))
    for row in cells:
        print(line(row))


def print_error(error: RapportError, stream: TextIO | None = None) -> None:
    """``error: <message> [code]``, then one line per problem, then a hint when one helps."""
    out = stream or sys.stderr
    print(f"error: {error.message} [{error.code}]", file=out)
    for problem in error.problems:
        where = f"{problem.pointer}: " if problem.pointer else ""
        print(f"  {where}{problem.message} [{problem.code}]", file=out)
        if problem.hint and "\n" in problem.hint:  # a formula's line with a caret under the place
            for hint_line in problem.hint.splitlines():
                print(f"      {hint_line}", file=out)
        elif problem.hint:
            print(f"    hint: {problem.hint}", file=out)
    hint = HINTS.get(error.code)
    if hint:
        print(f"hint: {hint}", file=out)


@dataclass
class ProgressBar:
    """A one-line text progress bar on stderr.

    On a terminal it redraws in place (``\\r``); otherwise (a log, a pipe, a test) it writes
    a line each time another tenth of the work is done, so logs stay short.
    """

    label: str
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    width: int = 30
    _last_tenth: int = -1
    _last_draw: float = 0.0
    _drawn: bool = False

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def update(self, done: int, total: int | None, text: str | None = None) -> None:
        if self.interactive:
            now = time.monotonic()
            if now - self._last_draw < 0.05 and not (total and done >= total):
                return  # redrawing faster than the eye reads only costs time
            self._last_draw = now
            columns = shutil.get_terminal_size().columns - 1  # never wrap: \r only rewinds one line
            self.stream.write("\r" + self._line(done, total, text)[:columns].ljust(columns))
            self.stream.flush()
            self._drawn = True
            return
        tenth = (10 * done // total) if total else 0
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            print(self._line(done, total, text), file=self.stream)

    def finish(self) -> None:
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _line(self, done: int, total: int | None, text: str | None) -> str:
        suffix = f"  {text}" if text else ""
        if not total:
            return f"{self.label}: {done}{suffix}"
        share = min(done / total, 1.0)
        filled = int(self.width * share)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"{self.label} [{bar}] {share:4.0%} {done}/{total}{suffix}"

    def __call__(self, text: str, done: int, total: int | None) -> None:
        """The ``(text, done, total)`` progress callback shape the services use."""
        self.update(done, total, text)
