"""The script API, worker side: the names a script sees, built from one run's inputs.

The worker knows nothing of records or triggers. For each ``run`` message it builds a
:class:`ScriptApi` from the message's ``kind``, ``inputs`` and ``limits`` and a ``call``
function that sends a ``call`` message to the host and waits for its answer, then::

    api = ScriptApi(message["kind"], message["inputs"], call, message["limits"])
    for names in api.executions():          # one per record of a trigger's batch, else one
        exec(code, script_globals(names))
    done = {"outcome": "ok", "result": api.result(), ...}

``call(fn, args)`` returns the ``value`` of the host's ``result`` answer, or raises
:class:`HostError` for an ``error`` answer. A limit error (``sandbox.limit.*``), from the host
or from this module (log output), is final: :attr:`ScriptApi.limit_error` holds it even if
the script catches the exception, every later API call raises it again, and the worker
reports the run as failed with it.

What a script sees (docs/scripts.md): ``record`` (a dict of the record's API values; its
changes are kept only in ``before_save`` triggers), ``old`` (the record before the change,
or ``None``), ``user``, ``org``, ``request`` (actions and endpoints), ``query``, ``get``,
``create``, ``update``, ``delete``, ``add_error``, ``log``, ``now``, ``today``, ``respond``
(actions and endpoints) and ``ScriptError``.

Inputs, by kind (the host's ``rapport.sandbox.triggers`` and ``scripts`` build them):
triggers get ``object``, ``records`` and ``olds`` (lists of the same length); an ``action``
gets ``object``, ``record`` and ``request``; an ``endpoint`` gets ``request``; all get
``user`` and ``org``. The result holds the ``records`` entries with changes or errors (a
trigger), or the ``response`` and ``status`` (``respond``) and ``errors``. The log lines
(:attr:`ScriptApi.logs`, also what ``print`` writes) and their size go in the ``done``
message beside the result, so a failed run's log reaches the runs log too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from rapport.sandbox.language import register_script_type

TRIGGER_KINDS = frozenset({"before_save", "after_save", "before_delete", "after_delete"})
REQUEST_KINDS = frozenset({"action", "endpoint"})
#: how deeply values sent to the host may nest (a deeper one is refused, not a RecursionError)
MAX_DEPTH = 32
#: one log line is cut to this many characters
MAX_LINE = 2_000

Call = Callable[[str, dict[str, Any]], Any]


class ScriptError(Exception):
    """Stops the script with a message: the save (or the action, or the endpoint) fails with
    it. A data call the host refuses raises it too, with the refusal's ``code``."""

    def __init__(self, message: Any = "", code: str = "sandbox.script_error") -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.code = code


register_script_type(ScriptError, ("message", "code", "args"))


class HostError(Exception):
    """The host refused a data call (the worker raises it for an ``error`` answer)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LimitExceeded(Exception):
    """A governor limit was reached; final for the run, whatever the script does."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ScriptApi:
    """The API names of one run, and what the run leaves behind for the host."""

    def __init__(self, kind: str, inputs: Mapping[str, Any], call: Call,
                 limits: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.inputs = inputs
        self._call = call
        self.output_limit = int((limits or {}).get("output_bytes") or 65_536)
        self.logs: list[str] = []
        self.output_bytes = 0
        self.limit_error: LimitExceeded | None = None
        self._entries: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []
        self._response: Any = None
        self._status = 200

    # -- the worker's side -----------------------------------------------------------------
    def executions(self) -> Iterator[dict[str, Any]]:
        """The names for each execution of the script: one per record of a trigger's batch
        (the worker runs the code once for each), else just one."""
        base = self._base_names()
        if self.kind in TRIGGER_KINDS:
            records = list(self.inputs.get("records") or ())
            olds = list(self.inputs.get("olds") or [None] * len(records))
            for index, (given, old) in enumerate(zip(records, olds, strict=True)):
                record = _copy(given)
                self._errors = []
                yield {**base, **self._who(), "record": record, "old": _copy(old)}
                self._finish_record(index, given, record)
            return
        self._errors = []
        record = self.inputs.get("record")
        yield {**base, **self._who(), "record": _copy(record), "old": None, "request": _copy(
            self.inputs.get("request")), "respond": self.respond}

    def result(self) -> dict[str, Any]:
        """What the host applies: changed values and errors per record, or the response."""
        if self.kind in TRIGGER_KINDS:
            return {"records": self._entries}
        return {"response": self._response, "status": self._status, "errors": self._errors}

    def write_output(self, text: str) -> None:
        """Output of ``print``, counted and kept as the log is."""
        for line in str(text).splitlines():
            self._log_line(line)

    # -- what the script calls ------------------------------------------------------------
    def query(self, object: str, filter: Any = None, fields: Any = None, sort: Any = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        """The records of ``object`` matching ``filter`` that the run's user may see."""
        args = {"object": object, "filter": filter, "fields": fields, "sort": sort, "limit": limit}
        return list(self._data("query", args))

    def get(self, object: str, id: str) -> dict[str, Any] | None:
        """One record by id, or ``None`` when there is none (or the user may not see it)."""
        return self._data("get", {"object": object, "id": id})  # type: ignore[no-any-return]

    def create(self, object: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return self._data("create", {"object": object, "values": values})  # type: ignore[no-any-return]

    def update(self, object: str, id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return self._data("update", {"object": object, "id": id, "values": values})  # type: ignore[no-any-return]

    def delete(self, object: str, id: str) -> None:
        self._data("delete", {"object": object, "id": id})

    def add_error(self, field: Any, message: Any) -> None:
        """Block the save (or fail the action) with an error on ``field`` (``None``: the record)."""
        self._check_limit()
        if field is not None and not isinstance(field, str):
            raise ScriptError(f"add_error(field, message): field must be a field name or None, got "
                              f"{type(field).__name__}")
        self._errors.append({"field": field, "message": str(message)[:MAX_LINE]})

    def log(self, *values: Any) -> None:
        """Write a line to the run's log (shown in the runs log), within the output limit."""
        self._log_line(" ".join(str(v) for v in values))

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(UTC).date()

    def respond(self, body: Any = None, status: int = 200) -> None:
        """The answer of an action or endpoint: a JSON value and an HTTP status (2xx)."""
        self._check_limit()
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 299:
            raise ScriptError(f"respond(body, status): status must be a whole number from 200 to 299, "
                              f"got {status!r}")
        self._response = to_json(body, "respond(body)")
        self._status = status

    # -- helpers -----------------------------------------------------------------------------
    def _who(self) -> dict[str, Any]:
        """``user`` and ``org``, fresh for each execution (one record cannot change the next's)."""
        return {"user": _copy(self.inputs.get("user")), "org": _copy(self.inputs.get("org"))}

    def _base_names(self) -> dict[str, Any]:
        return {
            "query": self.query, "get": self.get, "create": self.create, "update": self.update,
            "delete": self.delete, "add_error": self.add_error, "log": self.log, "now": self.now,
            "today": self.today, "ScriptError": ScriptError,
        }

    def _finish_record(self, index: int, given: Any, record: Any) -> None:
        entry: dict[str, Any] = {"index": index}
        if self.kind == "before_save":
            if not isinstance(record, dict):
                raise ScriptError("record must stay a dict of field values")
            changes = {k: to_json(v, f"record[{k!r}]") for k, v in record.items()
                       if not isinstance(given, dict) or k not in given or given[k] != v}
            if changes:
                entry["changes"] = changes
        elif record != given:
            raise ScriptError(f"record is read-only in {self.kind.replace('_', '-')} triggers: change records "
                              "with update(object, id, values)")
        if self._errors:
            entry["errors"] = self._errors
        if len(entry) > 1:
            self._entries.append(entry)

    def _data(self, fn: str, args: dict[str, Any]) -> Any:
        self._check_limit()
        payload = to_json(args, f"{fn}()")
        try:
            return self._call(fn, payload)
        except HostError as error:
            if error.code.startswith("sandbox.limit."):
                self.limit_error = LimitExceeded(error.code, error.message)
                raise self.limit_error from None
            raise ScriptError(error.message, error.code) from None

    def _log_line(self, line: str) -> None:
        self._check_limit()
        line = line[:MAX_LINE]
        size = len(line.encode("utf-8")) + 1
        if self.output_bytes + size > self.output_limit:
            self.output_bytes = self.output_limit + 1
            self.limit_error = LimitExceeded(
                "sandbox.limit.output", f"the script's log output passed the limit of {self.output_limit:,} bytes")
            raise self.limit_error
        self.output_bytes += size
        self.logs.append(line)

    def _check_limit(self) -> None:
        if self.limit_error is not None:
            raise self.limit_error


def _copy(value: Any) -> Any:
    """A copy of a JSON value (what inputs are), so the script cannot change the originals;
    much faster than ``copy.deepcopy``, which matters once per record of a batch."""
    if isinstance(value, dict):
        return {key: _copy(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) if isinstance(item, (dict, list)) else item for item in value]
    return value


def to_json(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as JSON the host takes: decimals as exact text, dates and times as ISO text,
    tuples and sets as lists; anything else is refused with a :class:`ScriptError`."""
    if depth > MAX_DEPTH:
        raise ScriptError(f"{where}: the value nests more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ScriptError(f"{where}: {value!r} is not a number JSON can hold")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ScriptError(f"{where}: {value} is not a number JSON can hold")
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ScriptError(f"{where}: keys must be text, got {type(key).__name__} {key!r}")
            out[key] = to_json(item, where, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item, where, depth + 1) for item in value]
    raise ScriptError(f"{where}: a {type(value).__name__} cannot be sent; use text, numbers, "
                      "True/False/None, dates, lists and dicts")
