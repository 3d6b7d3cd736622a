"""The runtime's side of the sandbox: what scripts' data calls do, how records travel to a
script and back, and running actions and endpoints.

The sandbox does not import the runtime (ARCHITECTURE.md: runtime → sandbox → metadata);
it gets these by injection. :class:`ScriptData` does a script's data calls through the
record service and query engine, in the caller's transaction, as the caller (every
permission, sharing rule and validation holds); each write runs in a savepoint, so a
refused write that the script catches leaves nothing half-done. :class:`Bridge` gives
triggers a record's API values and applies a before-save trigger's changes through the
field-type registry. :func:`run_action` and :func:`run_endpoint` run the other two kinds in
a transaction of their own; an endpoint called with ``GET`` may only read (:class:`ReadOnlyData`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rapport.platform.actor import SYSTEM, Actor
from rapport.platform.errors import Forbidden, NotFound, ProblemCollector, ValidationFailed
from rapport.runtime.permissions import access_for
from rapport.runtime.query import QuerySpec, run_query
from rapport.runtime.records.checks import coerce_input
from rapport.runtime.records.hooks import SaveContext
from rapport.runtime.records.serialize import serializer
from rapport.runtime.records.service import RecordService
from rapport.sandbox.catalog import Script, catalog_of
from rapport.sandbox.errors import SandboxUnavailable, ScriptNotFound
from rapport.sandbox.runner import Invocation, ScriptRunner
from rapport.sandbox.triggers import FIELD_ERROR


class ScriptData:
    """A script's data calls in transaction ``tx`` of org ``runtime``, as ``actor``."""

    def __init__(self, runtime: Any, tx: Any, actor: Actor) -> None:
        self.runtime = runtime
        self.tx = tx
        self.actor = actor
        self.records = RecordService(runtime, actor, tx)

    def query(self, object: str, filter: Any, fields: list[str] | None, sort: list[str],
              limit: int) -> list[dict[str, Any]]:
        spec = QuerySpec(object, filter=filter, fields=None if fields is None else tuple(fields), sort=tuple(sort),
                         limit=limit)
        tx = self.tx
        result = run_query(tx.conn, tx.model, spec, page_size_default=limit, page_size_max=limit,
                           env=self.runtime.formula_env(self.actor), access=access_for(tx.model, self.actor))
        return result.records

    def get(self, object: str, id: str) -> dict[str, Any] | None:
        try:
            return self.records.get(object, id)
        except NotFound as error:
            if error.code == "records.not_found":
                return None
            raise

    def create(self, object: str, values: dict[str, Any]) -> dict[str, Any]:
        with self._savepoint():
            return self.records.create(object, values)

    def update(self, object: str, id: str, values: dict[str, Any]) -> dict[str, Any]:
        with self._savepoint():
            return self.records.update(object, id, values)

    def delete(self, object: str, id: str) -> None:
        with self._savepoint():
            self.records.delete(object, id)

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        with self.tx.conn.begin_nested():
            yield


class ReadOnlyData:
    """The data calls of an endpoint called with ``GET``: reads only. A browser sends the
    session cookie with a cross-site ``GET`` (a link, a redirect) and no CSRF token is asked
    for safe methods, so a ``GET`` that could write would let any site write as the user."""

    def __init__(self, data: ScriptData) -> None:
        self._data = data

    def query(self, object: str, filter: Any, fields: list[str] | None, sort: list[str],
              limit: int) -> list[dict[str, Any]]:
        return self._data.query(object, filter, fields, sort, limit)

    def get(self, object: str, id: str) -> dict[str, Any] | None:
        return self._data.get(object, id)

    def create(self, object: str, values: dict[str, Any]) -> dict[str, Any]:
        raise _read_only()

    def update(self, object: str, id: str, values: dict[str, Any]) -> dict[str, Any]:
        raise _read_only()

    def delete(self, object: str, id: str) -> None:
        raise _read_only()


def _read_only() -> Forbidden:
    return Forbidden("a GET request may only read data; call the endpoint with POST to change data",
                     code="sandbox.read_only_request")


class Bridge:
    """What triggers need of the runtime (``rapport.sandbox.triggers.RecordBridge``)."""

    def record_json(self, ctx: SaveContext) -> dict[str, Any]:
        return serializer(ctx.object)(ctx.record)

    def prior_json(self, ctx: SaveContext) -> dict[str, Any] | None:
        return None if ctx.prior is None else serializer(ctx.object)(ctx.prior)

    def apply_changes(self, ctx: SaveContext, changes: dict[str, Any], script: str) -> None:
        """Coerce a before-save script's changes as an API caller's input is (any writable
        field: field-level security binds the user, not the admin's script); a value a field
        refuses is a validation error of the save, naming the script."""
        problems = ProblemCollector()
        coerced = coerce_input(ctx.object, changes, problems, ctx.pointer)
        for problem in problems.problems:
            ctx.errors.add(problem.pointer, problem.code, f"{problem.message} (set by script '{script}')")
        ctx.record.update(coerced)

    def data(self, ctx: SaveContext, as_system: bool) -> ScriptData:
        return ScriptData(ctx.tx.runtime, ctx.tx, SYSTEM if as_system else ctx.actor)

    def invocation(self, ctx: SaveContext, script: Script, records: int) -> Invocation:
        return _invocation(ctx.tx.runtime, ctx.tx, ctx.actor, script, records)


def run_action(runtime: Any, actor: Actor, object_name: str, record_id: str, name: str,
               body: Any) -> tuple[Any, int]:
    """Run action ``name`` of ``object_name`` on a record the actor may read: (response, status)."""
    runner = _runner(runtime)
    with runtime.transaction() as tx:
        obj = tx.model.object(object_name)
        script = catalog_of(tx.model).actions.get((obj.name, name))
        if script is None:
            raise ScriptNotFound(f"object '{obj.name}' has no action {name!r}; its actions are "
                                 f"{_names(n for o, n in catalog_of(tx.model).actions if o == obj.name)}")
        record = RecordService(runtime, actor, tx).get(obj.name, record_id)  # 404/403 as for a read
        inputs = {"object": obj.name, "record": record,
                  "request": {"method": "POST", "query": {}, "body": json_value(body)}}
        return _respond(runner, runtime, tx, actor, script, inputs)


def run_endpoint(runtime: Any, actor: Actor, name: str, method: str, query: Mapping[str, str],
                 body: Any) -> tuple[Any, int]:
    """Run endpoint script ``name`` for a ``method`` request: (response, status)."""
    runner = _runner(runtime)
    with runtime.transaction() as tx:
        script = catalog_of(tx.model).endpoints.get(name)
        if script is None:
            raise ScriptNotFound(f"the org has no endpoint {name!r}; its endpoints are "
                                 f"{_names(catalog_of(tx.model).endpoints)}")
        inputs = {"request": {"method": method, "query": dict(query), "body": json_value(body)}}
        return _respond(runner, runtime, tx, actor, script, inputs, read_only=method == "GET")


def _respond(runner: ScriptRunner, runtime: Any, tx: Any, actor: Actor, script: Script,
             inputs: dict[str, Any], *, read_only: bool = False) -> tuple[Any, int]:
    data = ScriptData(runtime, tx, SYSTEM if script.as_system else actor)
    result = runner.run(_invocation(runtime, tx, actor, script, 1), inputs,
                        ReadOnlyData(data) if read_only else data)
    errors = ProblemCollector()
    for error in result.get("errors") or ():
        field = error.get("field")
        errors.add(f"/{field}" if field else "", FIELD_ERROR, f"{error.get('message')} (script '{script.key}')")
    errors.raise_if_any(ValidationFailed, f"script '{script.key}' refused the request", "sandbox.refused")
    status = result.get("status")
    # the worker checks respond()'s status too; the host does not take a worker's word for it
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 299:
        status = 200
    return result.get("response"), status


def json_value(value: Any) -> Any:
    """A request body as scripts get it: the API reads numbers as exact decimals; a script gets
    them as JSON numbers (a decimal a float cannot hold exactly stays exact, as text)."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2 ** 63:
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    return value


def _invocation(runtime: Any, tx: Any, actor: Actor, script: Script, records: int) -> Invocation:
    user = {"id": actor.id, "name": actor.name, "profile": actor.profile}
    return Invocation(script, runtime.location.org_id, runtime.name, user, tx.state, records)


def _runner(runtime: Any) -> ScriptRunner:
    runner = getattr(runtime, "scripts", None)
    if runner is None:
        raise SandboxUnavailable("scripts do not run in this process: it has no sandbox")
    return runner  # type: ignore[no-any-return]


def _names(names: Any) -> str:
    listed = sorted(str(n) for n in names)
    return ", ".join(repr(n) for n in listed) or "none"
