"""What a caller asks of the query engine, and what it gets back.

A :class:`QuerySpec` is plain data: the object, the JSON filter tree, the field paths to
return, the sort, the page size and cursor. The HTTP layer parses query parameters into
one; scripts and list views build one directly. :func:`run_query` turns it into exactly one
SQL statement and a :class:`QueryResult`. The opaque page cursor's format lives here too.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from collections.abc import Callable


from rapport.platform.errors import InvalidRequest


@dataclass(frozen=True)
class QuerySpec:
    """One list query against one object.

    ``fields`` are field paths (``"amount"``, ``"account.name"``); ``None`` means every
    stored field of the object. System fields always come back. ``sort`` entries are paths,
    ``"-"``-prefixed for descending; ``id`` is always the final tie-breaker. ``cursor`` is
    the opaque ``next_cursor`` of a previous page of the same object and sort.
    """

    object: str
    filter: Any = None
    fields: tuple[str, ...] | None = None
    sort: tuple[str, ...] = ()
    limit: int | None = None
    cursor: str | None = None
    count: bool = False
    include_deleted: bool = False

    def __post_init__(self) -> None:
        # Accept lists from callers that build specs out of JSON; keep the dataclass hashable.
        if isinstance(self.fields, list):
            object.__setattr__(self, "fields", tuple(self.fields))
        if isinstance(self.sort, list):
            object.__setattr__(self, "sort", tuple(self.sort))


@dataclass
class QueryResult:
    """One page of records keyed by field path, the cursor of the next page, the count."""

    records: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    total: int | None = None


# -- cursors ---------------------------------------------------------------------------
# A cursor is url-safe base64 (unpadded) of compact JSON:
#   {"o": object, "s": ["-amount", "id"], "k": [{"n": "100.50"}, {"s": "0190..."}]}
# Each sort value is tagged with its Python type so dates, datetimes and decimals come back
# exactly as the database returned them; null stays null.

_ENCODERS: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (bool, "b", bool),
    (int, "i", int),
    (Decimal, "n", str),
    (float, "f", float),
    (datetime, "dt", datetime.isoformat),
    (date, "d", date.isoformat),
    (time, "t", time.isoformat),
    (str, "s", str),
)
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "b": lambda v: _typed(v, bool), "i": lambda v: _typed(v, int),
    "n": lambda v: _finite(Decimal(_typed(v, str))), "f": lambda v: _finite(float(v)),
    "dt": datetime.fromisoformat, "d": date.fromisoformat,
    "t": time.fromisoformat, "s": lambda v: _typed(v, str),
}


def encode_cursor(object_name: str, sort: list[str], values: list[Any]) -> str:
    payload = {"o": object_name, "s": sort, "k": [_encode_value(v) for v in values]}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


#: far longer than any cursor this engine issues (a few sort values)
MAX_CURSOR_LENGTH = 8192


def decode_cursor(cursor: str, object_name: str, sort: list[str],
                  fits: list[Callable[[Any], bool]]) -> list[Any]:
    """The sort values a cursor carries, checked against the object, the sort and each sort
    field's type (``fits``): a tampered cursor is refused, never sent to the database."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("not a cursor")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        made_for, made_sort, tagged = payload["o"], payload["s"], payload["k"]
        values = [None if v is None else _decode_value(v) for v in tagged]
    except (TypeError, ValueError, KeyError, ArithmeticError, AttributeError, RecursionError):
        raise InvalidRequest("the cursor is not one this API issued; start again without a cursor",
                             code="query.bad_cursor") from None
    if made_for != object_name or made_sort != sort:
        issued = ", ".join(map(str, made_sort)) if isinstance(made_sort, list) else repr(made_sort)
        raise InvalidRequest(
            f"the cursor was issued for object {made_for!r} sorted by {issued}, not for object "
            f"'{object_name}' sorted by {', '.join(sort)}; use the same sort or start without a cursor",
            code="query.bad_cursor")
    if len(values) != len(fits) or not all(v is None or fit(v) for v, fit in zip(values, fits)):
        raise InvalidRequest("the cursor's values do not fit this sort; start again without a cursor",
                             code="query.bad_cursor")
    return values


def _encode_value(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    for kind, tag, encode in _ENCODERS:
        if isinstance(value, kind):
            return {tag: encode(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _decode_value(tagged: Any) -> Any:
    ((tag, value),) = tagged.items()
    return _DECODERS[tag](value)


def _typed(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}")
    return value


def _finite(number: Any) -> Any:
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


