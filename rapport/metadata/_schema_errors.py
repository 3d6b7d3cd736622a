"""JSON Schema errors turned into :class:`Problem`\\ s people can act on.

Each ``jsonschema`` error becomes one problem per offending key, with a JSON pointer at
that key, a stable code chosen by the failing keyword and a message naming the component
(``field 'stage' of object 'deal'``), the key, what was given and what is allowed. Errors
that are only echoes of another one are dropped: options flagged as unknown because the
field's ``type`` is itself wrong, or because another option of the same type failed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Sequence

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry
from rapport.platform.errors import Problem, pointer

if TYPE_CHECKING:
    from referencing._core import Resolver

Path = tuple[Any, ...]

_ENTITIES = {
    "objects": "object", "layouts": "layout", "list_views": "list view",
    "validation_rules": "validation rule", "workflow_rules": "workflow rule", "scripts": "script",
    "profiles": "profile", "permission_sets": "permission set",
}
_JSON_TYPES = {
    "object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false", "null": "null",
}
_NAME_RULES = {"API name": "API name", "Field path": "field path", "Sort key": "sort key"}
_RANGE = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
          "minLength", "maxLength", "minItems", "maxItems"}


def schema_problems(errors: list[ValidationError], registry: Registry, data: Any) -> list[Problem]:
    typed = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    bad_discriminator = {
        tuple(e.absolute_path)[:-1] for e in errors
        if e.absolute_path and e.absolute_path[-1] == "type"
    } | {
        tuple(e.absolute_path) for e in errors
        if e.validator == "required" and "type" in _missing(e)
    }
    problems: list[Problem] = []
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator != "type" and path in typed:
            continue  # "must be a string" says it all
        if error.validator == "unevaluatedProperties" and path in bad_discriminator:
            continue  # options can't be judged while the type is wrong
        problems.extend(_problems(error, path, data, registry))
    return ordered(problems)


def ordered(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in document order, each (pointer, code) once."""
    seen: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        seen.setdefault((problem.pointer, problem.code), problem)
    return sorted(seen.values(), key=lambda p: _pointer_key(p.pointer))


def json_type(value: Any) -> str:
    """``value``'s JSON type with an article, and the value itself if it is short."""
    kind = _JSON_TYPES[_json_type_name(value)]
    if isinstance(value, (dict, list)) or value is None:
        return kind
    shown = _show(value)
    return f"{kind} ({shown})" if len(shown) <= 40 else kind


# -- one error ----------------------------------------------------------------------------

def _problems(error: ValidationError, path: Path, data: Any, registry: Registry) -> list[Problem]:
    keyword = error.validator
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return _unknown_keys(error, path, data, registry)
    if keyword == "required":
        subject, rest = _where(data, path)
        return [
            Problem(pointer(*path, key), "metadata.missing_key",
                    f"{subject}: {_of(rest)}missing required key {key!r}")
            for key in _missing(error)
        ]
    subject, rest = _where(data, path)
    at, what, value = pointer(*path), rest or "value", _show(error.instance)
    described = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        wanted = " or ".join(_JSON_TYPES[t] for t in expected)
        return [Problem(at, "metadata.wrong_type",
                        f"{subject}: {what} must be {wanted}, got {json_type(error.instance)}")]
    if keyword in ("enum", "const"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        return [Problem(at, "metadata.not_allowed",
                        f"{subject}: {what} {value} is not one of {_list(allowed)}")]
    rule = described.get("description", "")
    title = described.get("title")
    if title in _NAME_RULES and keyword in ("pattern", "maxLength", "minLength"):
        return [Problem(at, "metadata.bad_name",
                        f"{subject}: {what} {value} is not a valid {_NAME_RULES[title]}. {rule}")]
    if keyword in _RANGE:
        return [Problem(at, "metadata.out_of_range", f"{subject}: {what} {_range(error)}")]
    if keyword == "pattern" and rule:
        return [Problem(at, "metadata.invalid", f"{subject}: {what} {value} is not valid. {rule}")]
    return [Problem(at, "metadata.invalid", f"{subject}: {what}: {error.message}")]


def _unknown_keys(error: ValidationError, path: Path, data: Any,
                  registry: Registry) -> list[Problem]:
    instance = error.instance
    if not isinstance(instance, dict):
        return []
    resolver = registry.resolver(base_uri=error.schema.get("$id", ""))
    allowed = _allowed_keys(error.schema, instance, resolver, registry)
    # Keys a failing sub-schema left "unevaluated" although they are allowed are an echo
    # of that failure, not unknown: only keys nothing declares are reported.
    unexpected = [key for key in instance if key not in allowed]
    subject, rest = _where(data, path)
    kind = instance.get("type")
    typed = error.validator == "unevaluatedProperties" and isinstance(kind, str)
    for_type = f" for type {kind!r}" if typed else ""
    return [
        Problem(pointer(*path, key), "metadata.unknown_key",
                f"{subject}: {_of(rest)}unknown key {key!r}{for_type}; "
                f"allowed keys are {_list(sorted(allowed))}")
        for key in unexpected
    ]


def _allowed_keys(schema: Any, instance: dict[str, Any], resolver: Resolver,
                  registry: Registry) -> set[str]:
    """Every key ``schema`` declares for ``instance``, following $ref, allOf and if/then/else."""
    if not isinstance(schema, dict):
        return set()
    keys = set(schema.get("properties", {}))
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        keys |= _allowed_keys(resolved.contents, instance, resolved.resolver, registry)
    for sub in schema.get("allOf", ()):
        keys |= _allowed_keys(sub, instance, resolver, registry)
    if "if" in schema:
        matches = Draft202012Validator(schema["if"], registry=registry).is_valid(instance)
        branch = schema.get("then" if matches else "else")
        keys |= _allowed_keys(branch, instance, resolver, registry)
    return keys


def _missing(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in error.validator_value if key not in instance]


def _range(error: ValidationError) -> str:
    keyword, limit, value = error.validator, error.validator_value, error.instance
    if keyword in ("minLength", "minItems") and limit == 1:
        return "must not be empty"
    if keyword == "minLength":
        return f"{_show(value)} is too short ({len(value)} characters, at least {limit})"
    if keyword == "maxLength":
        return f"is too long ({len(value)} characters, at most {limit})"
    if keyword == "minItems":
        return f"has {len(value)} items, at least {limit} needed"
    if keyword == "maxItems":
        return f"has {len(value)} items, at most {limit} allowed"
    bound = {"minimum": "below the minimum", "maximum": "above the maximum",
             "exclusiveMinimum": "not above", "exclusiveMaximum": "not below"}[keyword]
    return f"{_show(value)} is {bound} {limit}"


# -- describing where ---------------------------------------------------------------------

def _where(data: Any, path: Path) -> tuple[str, str]:
    """The component ``path`` is inside (``field 'x' of object 'y'``) and the rest of the path."""
    subject, used = "bundle", 0
    if len(path) >= 2 and path[0] in _ENTITIES and isinstance(path[1], int):
        item = _at(data, path[:2])
        name = _qualified_name(item, qualified=path[0] != "objects")
        if name:
            subject, used = f"{_ENTITIES[path[0]]} {name!r}", 2
            in_field = len(path) >= 4 and path[2] == "fields" and isinstance(path[3], int)
            if path[0] == "objects" and in_field:
                field_name = _qualified_name(_at(data, path[:4]), qualified=False)
                if field_name:
                    subject, used = f"field {field_name!r} of {subject}", 4
    rest = ""
    for part in path[used:]:
        rest += f"[{part}]" if isinstance(part, int) else (f".{part}" if rest else str(part))
    return subject, rest


def _qualified_name(item: Any, *, qualified: bool) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    if qualified and isinstance(item.get("object"), str):
        return f"{item['object']}.{item['name']}"
    return item["name"]


def _at(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _of(rest: str) -> str:
    return f"{rest}: " if rest else ""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    return json.dumps(value, default=_number)


def _number(value: Any) -> Any:
    """JSON for what ``json`` cannot write: the API reads numbers with a fraction as ``Decimal``."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _list(values: Iterable[Any]) -> str:
    return ", ".join(_show(v) for v in values)


def _json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}.get(type(value), "object")


def _pointer_key(ptr: str) -> tuple[tuple[int, Any], ...]:
    parts = ptr.split("/")[1:] if ptr else []
    return tuple((0, int(p)) if p.isascii() and p.isdigit() else (1, p) for p in parts)
