"""The composite endpoint: up to 200 record operations in one request.

    POST /composite
    {"all_or_none": true,
     "operations": [
       {"ref": "acme", "op": "create", "object": "account", "record": {"name": "Acme"}},
       {"op": "create", "object": "contact", "record": {"account": "@{acme.id}", "last_name": "Ng"}},
       {"op": "update", "object": "account", "id": "@{acme.id}", "record": {"industry": "Tech"}, "version": 1},
       {"op": "upsert", "object": "account", "field": "code", "value": "A-1", "record": {...}},
       {"op": "delete", "object": "deal", "id": "…"},
       {"op": "get", "object": "account", "id": "@{acme.id}"}]}

A string ``"@{ref.field}"`` is replaced by that field of the record an earlier operation
named ``ref`` returned (the whole string keeps the value's type; inside a longer string it
is text). With ``all_or_none`` (the default) every operation runs in one transaction: the
first failure rolls all of them back, and the answer is a problem (``composite.failed``)
whose ``results`` say which failed and why. Otherwise
each operation commits on its own, and one that refers to a failed operation fails too.
The answer lists one result per operation, in order: ``status``, and ``record`` or ``error``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.errors import InvalidRequest, ProblemCollector, RapportError
from rapport.runtime.api.http import JSONResponse, actor, check_params, json_object, org

MAX_OPERATIONS = 200
OPERATIONS = {"create": ("object", "record"), "update": ("object", "id", "record"), "delete": ("object", "id"),
              "upsert": ("object", "field", "value", "record"), "get": ("object", "id")}
OPTIONAL = {"ref", "version"}
#: keys that name an object, field or record: strings (or "@{ref.id}" references)
NAMES = ("object", "field", "id")
REFERENCE = re.compile(r"@\{([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\}")


class _Halt(Exception):
    """Raised inside the all-or-none transaction to roll it back."""


class _Failed(RapportError):
    """An all-or-none batch that failed: a problem whose ``results`` say what became of each operation."""

    code = "composite.failed"
    status = 400
    title = "Composite request failed"


class _Reference(RapportError):
    code = "composite.bad_reference"
    status = 400
    title = "Bad reference"


def composite(request: Request, body: Any) -> Response:
    body = json_object(body, "the request")
    check_params(request, ())
    operations, all_or_none = _parse(body)
    runtime, who = org(request), actor(request)
    results: list[dict[str, Any]] = []
    done: dict[str, dict[str, Any]] = {}
    if all_or_none:
        try:
            with runtime.transaction() as tx:
                records = runtime.records(who, tx)
                for operation in operations:
                    result = _run(records, operation, done)
                    results.append(result)
                    if result["status"] >= 400:
                        raise _Halt
        except _Halt:
            failed = len(results) - 1
            cause = results[-1]["error"]
            results = [_rolled_back(r["ref"]) for r in results[:failed]] + [results[-1]] + \
                [_not_run(o.get("ref"), failed) for o in operations[failed + 1:]]
            raise _Failed(f"operation {failed} ({operations[failed]['op']} {operations[failed]['object']!r}) failed: "
                          f"{cause['detail']} [{cause['code']}]; nothing was written (all_or_none)",
                          details={"all_or_none": True, "succeeded": False, "results": results}) from None
        return JSONResponse({"all_or_none": True, "succeeded": True, "results": results})
    for operation in operations:
        results.append(_run(runtime.records(who), operation, done))
    return JSONResponse({"all_or_none": False, "succeeded": all(r["status"] < 400 for r in results),
                         "results": results})


def _parse(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    unknown = sorted(set(body) - {"operations", "all_or_none"})
    if unknown:
        raise InvalidRequest(f"a composite request has 'operations' and 'all_or_none'; unexpected "
                             f"{', '.join(map(repr, unknown))}", code="composite.bad_request")
    operations, all_or_none = body.get("operations"), body.get("all_or_none", True)
    if not isinstance(all_or_none, bool):
        raise InvalidRequest("'all_or_none' is true or false", code="composite.bad_request")
    if not isinstance(operations, list) or not operations:
        raise InvalidRequest("'operations' must be a non-empty list", code="composite.bad_request")
    if len(operations) > MAX_OPERATIONS:
        raise InvalidRequest(f"a composite request holds at most {MAX_OPERATIONS} operations, got {len(operations)}",
                             code="composite.too_many_operations")
    problems = ProblemCollector()
    refs: set[str] = set()
    for index, operation in enumerate(operations):
        at = f"/operations/{index}"
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str) \
                or operation["op"] not in OPERATIONS:
            problems.add(f"{at}/op", "composite.bad_operation",
                         f"each operation is an object whose 'op' is one of {', '.join(OPERATIONS)}")
            continue
        needed = OPERATIONS[operation["op"]]
        for key in needed:
            if key not in operation:
                problems.add(f"{at}/{key}", "composite.bad_operation", f"operation '{operation['op']}' needs '{key}'")
            elif key in NAMES and not isinstance(operation[key], str):
                problems.add(f"{at}/{key}", "composite.bad_operation",
                             f"'{key}' must be a string, got {_kind(operation[key])}")
        for key in sorted(set(operation) - set(needed) - OPTIONAL - {"op"}):
            problems.add(f"{at}/{key}", "composite.bad_operation",
                         f"operation '{operation['op']}' takes {', '.join(needed)} (and optionally "
                         f"{', '.join(sorted(OPTIONAL))}); unexpected {key!r}")
        ref = operation.get("ref")
        if ref is not None:
            if not isinstance(ref, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", ref):
                problems.add(f"{at}/ref", "composite.bad_operation",
                             "'ref' is a name of lower-case letters, digits and '_', starting with a letter")
            elif ref in refs:
                problems.add(f"{at}/ref", "composite.duplicate_ref", f"ref {ref!r} is used by an earlier operation")
            refs.add(str(ref))
    problems.raise_if_any(InvalidRequest, "the composite request is not valid", "composite.bad_request")
    return operations, all_or_none


def _kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "a boolean"
    kinds: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), "a number")


def _run(records: Any, operation: dict[str, Any], done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    op, ref = operation["op"], operation.get("ref")
    try:
        resolved = _resolve(operation, done)
        for key in NAMES:  # _parse saw strings; a reference among them may stand for any value
            if key in resolved and not isinstance(resolved[key], str):
                raise _Reference(f"'{key}' must be a string, but {operation[key]} is {_kind(resolved[key])}",
                                 code="composite.bad_reference")
        name = resolved["object"]
        if op == "create":
            record, status = records.create(name, resolved["record"]), 201
        elif op == "update":
            record, status = records.update(name, resolved["id"], resolved["record"],
                                            expected_version=resolved.get("version")), 200
        elif op == "upsert":
            record, created = records.upsert(name, resolved["field"], resolved["value"], resolved["record"])
            status = 201 if created else 200
        elif op == "delete":
            records.delete(name, resolved["id"], expected_version=resolved.get("version"))
            record, status = None, 204
        else:
            record, status = records.get(name, resolved["id"]), 200
    except RapportError as error:
        return {"ref": ref, "status": error.status, "error": error.to_problem()}
    if ref is not None:
        done[ref] = record or {"id": resolved["id"]}
    return {"ref": ref, "status": status, "record": record}


def _resolve(value: Any, done: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, done) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, done) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value
    whole = REFERENCE.fullmatch(value)
    if whole:
        return _lookup(whole, done)
    return REFERENCE.sub(lambda m: str(_lookup(m, done)), value)


def _lookup(match: re.Match[str], done: dict[str, dict[str, Any]]) -> Any:
    ref, field = match.groups()
    if ref not in done:
        raise _Reference(f"{match.group(0)} refers to {ref!r}, which no earlier operation that succeeded is named",
                         code="composite.bad_reference")
    if field not in done[ref]:
        raise _Reference(f"{match.group(0)}: the record of {ref!r} has no field {field!r}",
                         code="composite.bad_reference")
    return done[ref][field]


def _rolled_back(ref: str | None) -> dict[str, Any]:
    detail = "this operation succeeded but was rolled back because a later one failed (all_or_none)"
    return {"ref": ref, "status": 424, "error": {"code": "composite.rolled_back", "detail": detail}}


def _not_run(ref: str | None, failed: int) -> dict[str, Any]:
    return {"ref": ref, "status": 424, "error": {"code": "composite.not_run",
                                     "detail": f"not run: operation {failed} failed (all_or_none)"}}
