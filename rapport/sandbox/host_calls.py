"""The host's side of a script's data calls: check the arguments, count them against the
governor, and have the record service and query engine do them.

The sandbox does not import the runtime: the runtime hands it a :class:`DataAccess` for the
transaction and actor a run belongs to (``rapport.runtime.script_host.ScriptData``), so
every call runs in the caller's transaction with the caller's (or, for a ``run_as: system``
script, the system's) permissions, in the caller's org only — a script has no way to name
another org. A refused call becomes an ``error`` answer the script sees as a
``ScriptError`` with the refusal's code; a limit reached is final for the run. A call counts
against the governor once it reaches the record service or query engine, whether it
succeeds or not: a script that catches refusals cannot make unlimited attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rapport.platform.errors import RapportError
from rapport.sandbox.errors import LimitReached
from rapport.sandbox.governor import Governor

CALLS = ("query", "get", "create", "update", "delete")
MAX_FIELDS = 200


class DataAccess(Protocol):
    """Record reads and writes in one transaction, as one actor (JSON values in and out)."""

    def query(self, object: str, filter: Any, fields: list[str] | None, sort: list[str],
              limit: int) -> list[dict[str, Any]]: ...

    def get(self, object: str, id: str) -> dict[str, Any] | None: ...

    def create(self, object: str, values: dict[str, Any]) -> dict[str, Any]: ...

    def update(self, object: str, id: str, values: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, object: str, id: str) -> None: ...


class CallRefused(RapportError):
    """A data call the host will not or could not do (the worker pool answers it as an
    ``error``; the script sees a ``ScriptError`` with this code)."""

    status = 422
    title = "Data call refused"


class HostCalls:
    """Answers one run's ``call`` messages: ``calls(fn, args)`` → the value, or raises
    :class:`CallRefused` (or :class:`LimitReached`, final for the run)."""

    def __init__(self, data: DataAccess, governor: Governor) -> None:
        self.data = data
        self.governor = governor

    def __call__(self, fn: str, args: Any) -> Any:
        self.governor.check_open()
        if fn not in CALLS:
            raise CallRefused(f"there is no data call {fn!r}; the calls are {', '.join(CALLS)}",
                              code="sandbox.unknown_call")
        if not isinstance(args, Mapping):
            raise CallRefused(f"{fn}(): the arguments must be a JSON object", code="sandbox.bad_call")
        try:
            return getattr(self, "_" + fn)(args)
        except (LimitReached, CallRefused):
            raise  # a limit is final for the run (the pool says so by its code)
        except RapportError as error:
            raise CallRefused(f"{fn}(): {error}", code=error.code) from None

    # -- the calls ------------------------------------------------------------------------------
    def _query(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        object_name = _text(args, "object", "query")
        fields = _names(args.get("fields"), "fields")
        sort = _names(args.get("sort"), "sort") or []
        limit = args.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise CallRefused(f"query(): limit must be a whole number of at least 1, "
                              f"got {limit!r}", code="sandbox.bad_call")
        self.governor.before_query()
        room = self.governor.rows_left() + 1  # one more than allowed: enough to know the limit is passed
        records: list[dict[str, Any]] = []
        try:
            records = self.data.query(object_name, args.get("filter"), fields, sort,
                                      room if limit is None else min(limit, room))
        finally:  # a refused query counts too
            self.governor.count_query(len(records))
        return records

    def _get(self, args: Mapping[str, Any]) -> dict[str, Any] | None:
        object_name, record_id = _text(args, "object", "get"), _text(args, "id", "get")
        self.governor.before_query()
        record = None
        try:
            record = self.data.get(object_name, record_id)
        finally:
            self.governor.count_query(0 if record is None else 1)
        return record

    def _create(self, args: Mapping[str, Any]) -> dict[str, Any]:
        object_name, values = _text(args, "object", "create"), _values(args, "create")
        self.governor.before_dml()
        try:
            return self.data.create(object_name, values)
        finally:  # a refused write counts too: it ran the pipeline (and its triggers) up to the refusal
            self.governor.count_dml()

    def _update(self, args: Mapping[str, Any]) -> dict[str, Any]:
        object_name, record_id = _text(args, "object", "update"), _text(args, "id", "update")
        values = _values(args, "update")
        self.governor.before_dml()
        try:
            return self.data.update(object_name, record_id, values)
        finally:
            self.governor.count_dml()

    def _delete(self, args: Mapping[str, Any]) -> None:
        object_name, record_id = _text(args, "object", "delete"), _text(args, "id", "delete")
        self.governor.before_dml()
        try:
            self.data.delete(object_name, record_id)
        finally:
            self.governor.count_dml()


def _text(args: Mapping[str, Any], name: str, fn: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise CallRefused(f"{fn}(): {name} must be text, got {value!r}"[:300], code="sandbox.bad_call")
    return value


def _values(args: Mapping[str, Any], fn: str) -> dict[str, Any]:
    values = args.get("values")
    if not isinstance(values, dict):
        raise CallRefused(f"{fn}(): values must be a dict of field values, got "
                          f"{type(values).__name__}", code="sandbox.bad_call")
    return values


def _names(value: Any, what: str) -> list[str] | None:
    """Field paths, as a list or one comma-separated text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or len(value) > MAX_FIELDS or not all(isinstance(v, str) for v in value):
        raise CallRefused(f"query(): {what} must be a list of field names (at most "
                          f"{MAX_FIELDS})", code="sandbox.bad_call")
    return value
