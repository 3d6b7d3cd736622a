"""The query engine: list records of one object with filters, sorts, lookups and cursors.

One :class:`QuerySpec` becomes exactly one SQL statement (the optional count included),
built with SQLAlchemy Core from the compiled org model.
"""

from __future__ import annotations

from rapport.runtime.query.engine import run_query
from rapport.runtime.query.filters import compile_filter
from rapport.runtime.query.spec import QueryResult, QuerySpec

__all__ = ["QueryResult", "QuerySpec", "compile_filter", "run_query"]
