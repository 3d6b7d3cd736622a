"""The ceiling: a minimal hand-written API for one fixed table, the deal of the benchmark bundle.

What Rapport's generated record endpoints are compared with. It serves the same three
requests at the same paths and answers with the same JSON:

    POST /api/v1/records/deal         create: parse and validate the body, new UUIDv7, INSERT → 201
    GET  /api/v1/records/deal/{id}    read by id: one SELECT → 200 (404 when absent)
    GET  /api/v1/records/deal         list: filter (JSON), fields, sort, limit, cursor → a page

It does the honest minimum a production endpoint does and nothing more: a Bearer API key
checked with one indexed SELECT of its SHA-256 in an ``api_keys`` table (in the request's
transaction), the body's fields checked against each column's type (every error collected),
system columns filled, one transaction per request, rows serialised to JSON. No permissions,
no metadata, no history. The record it writes is the same record Rapport writes: its
``deal_number`` is the next number of a counter row (one ``UPDATE … RETURNING``), and its
``account`` must name an existing account (one indexed SELECT), as a hand-written endpoint
for this shape must do to answer a clear 422 instead of storing a dangling reference. The
handlers are synchronous and run in Starlette's threadpool, as Rapport's do.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rapport.platform.ids import new_id
from rapport.platform.sqltypes import UtcDateTime, utcnow

STAGES = frozenset({"prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"})
SYSTEM_COLUMNS = ("id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version")
MAX_LIMIT = 200


def tables(schema: str | None = None) -> tuple[sa.Table, sa.Table]:
    """``deal`` (the compiled deal's columns and indexes) and ``api_keys``; ``account`` (ids)
    and ``counters`` are in the same metadata (``deal.metadata.tables``)."""
    metadata = sa.MetaData(schema=schema)
    sa.Table("account", metadata, sa.Column("id", sa.String(36), primary_key=True))
    sa.Table("counters", metadata, sa.Column("name", sa.String(40), primary_key=True),
             sa.Column("value", sa.BigInteger, nullable=False))
    deal = sa.Table(
        "deal", metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("account", sa.String(36), index=True),
        sa.Column("primary_contact", sa.String(36), index=True),
        sa.Column("amount", sa.Numeric(18, 2, asdecimal=False), index=True),
        sa.Column("stage", sa.String(255)),
        sa.Column("probability", sa.Numeric(5, 2, asdecimal=False)),
        sa.Column("close_date", sa.Date),
        sa.Column("next_step", sa.Text),
        sa.Column("deal_number", sa.String(255), unique=True),
        sa.Index("ix_deal_default_sort", "created_at", "id"),
    )
    api_keys = sa.Table(
        "api_keys", metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("revoked_at", UtcDateTime()),
    )
    return deal, api_keys


def _in(metadata: sa.MetaData, name: str) -> sa.Table:
    return metadata.tables[f"{metadata.schema}.{name}" if metadata.schema else name]


def make_engine(url: str) -> Engine:
    """The same connection settings as Rapport's: WAL, ``synchronous=NORMAL`` and writers that
    take the lock at BEGIN on SQLite; the same pool on PostgreSQL."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")

    return engine


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []


# -- the create body: one check per column ------------------------------------------------

def _text(limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"must be text of at most {limit} characters")
        return value
    return check


def _uuid(value: Any) -> Any:
    if not isinstance(value, str) or len(value) != 36 or value.count("-") != 4:
        raise ValueError("must be a record id")
    return value


def _number(digits: int, low: Decimal | None = None, high: Decimal | None = None) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError("must be a number")
        try:
            number = Decimal(value).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise ValueError("is out of range") from None
        if len(number.as_tuple().digits) > digits or (low is not None and number < low) or \
                (high is not None and number > high):
            raise ValueError("is out of range")
        return number
    return check


def _stage(value: Any) -> Any:
    if value not in STAGES:
        raise ValueError(f"must be one of {', '.join(sorted(STAGES))}")
    return value


def _date(value: Any) -> Any:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("must be a date YYYY-MM-DD") from None


WRITABLE: dict[str, Callable[[Any], Any]] = {
    "name": _text(255), "account": _uuid, "primary_contact": _uuid, "amount": _number(18),
    "stage": _stage, "probability": _number(5, Decimal(0), Decimal(100)), "close_date": _date,
    "next_step": _text(2000),
}
REQUIRED = ("name", "account", "stage")


def parse_deal(body: bytes) -> dict[str, Any]:
    """The columns to insert, or :class:`ApiError` naming every bad field."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    errors = [f"field '{name}' is required" for name in REQUIRED if data.get(name) in (None, "")]
    values: dict[str, Any] = {}
    for name, value in data.items():
        check = WRITABLE.get(name)
        if check is None:
            errors.append(f"unknown field {name!r}")
        elif value is not None:
            try:
                values[name] = check(value)
            except ValueError as error:
                errors.append(f"field '{name}' {error}")
    if errors:
        raise ApiError(400, "the deal is not valid", errors)
    return values


# -- rows to JSON ------------------------------------------------------------------------

def _utc(value: Any) -> Any:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


TO_JSON: dict[str, Callable[[Any], Any]] = {"created_at": _utc, "updated_at": _utc, "close_date": _iso}


def to_json(keys: tuple[str, ...], row: Any) -> dict[str, Any]:
    return {key: TO_JSON[key](value) if key in TO_JSON else value for key, value in zip(keys, row, strict=True)}


# -- the application -----------------------------------------------------------------------

class CeilingApi:
    def __init__(self, engine: Engine, deal: sa.Table, api_keys: sa.Table) -> None:
        self.engine, self.deal, self.keys = engine, deal, api_keys
        self.columns = tuple(c.name for c in deal.c)
        account, counters = (_in(deal.metadata, name) for name in ("account", "counters"))
        self.account_exists = sa.select(account.c.id).where(account.c.id == sa.bindparam("id"))
        self.next_number = (counters.update().where(counters.c.name == "deal")
                            .values(value=counters.c.value + 1).returning(counters.c.value))

    def app(self) -> Starlette:
        routes = [
            Route("/api/v1/records/deal", self.create, methods=["POST"]),
            Route("/api/v1/records/deal", self.list, methods=["GET"]),
            Route("/api/v1/records/deal/{id}", self.read, methods=["GET"], name="read"),
        ]
        return Starlette(routes=routes, exception_handlers={ApiError: _error})

    async def create(self, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(self._create, request, body)

    async def read(self, request: Request) -> Response:
        return await run_in_threadpool(self._read, request)

    async def list(self, request: Request) -> Response:
        return await run_in_threadpool(self._list, request)

    def _create(self, request: Request, body: bytes) -> Response:
        try:
            values, problem = parse_deal(body), None
        except ApiError as error:
            values, problem = {}, error
        with self._transaction(request, read_only=False) as (conn, user_id):
            if problem is not None:  # after authentication: a stranger learns nothing from a 400
                raise problem
            if values.get("account") is not None and \
                    conn.execute(self.account_exists, {"id": values["account"]}).first() is None:
                raise ApiError(422, f"no account has id {values['account']!r}")
            now = utcnow()
            number = conn.execute(self.next_number).scalar_one()
            row = {"id": new_id(), "owner": user_id, "created_at": now, "created_by": user_id,
                   "updated_at": now, "updated_by": user_id, "version": 1, **values,
                   "deal_number": f"D-{number:05d}"}
            conn.execute(self.deal.insert().values(row))
        record = to_json(self.columns, [_plain(row.get(c)) for c in self.columns])
        headers = {"ETag": '"1"', "Location": f"/api/v1/records/deal/{row['id']}"}
        return JSONResponse(record, status_code=201, headers=headers)

    def _read(self, request: Request) -> Response:
        record_id = request.path_params["id"]
        with self._transaction(request) as (conn, _user):
            row = conn.execute(sa.select(self.deal).where(self.deal.c.id == record_id)).first()
        if row is None:
            raise ApiError(404, f"deal {record_id!r} does not exist")
        return JSONResponse(to_json(self.columns, row), headers={"ETag": f'"{row.version}"'})

    def _list(self, request: Request) -> Response:
        query, keys, sort_key, limit = self._list_query(request)
        with self._transaction(request) as (conn, _user):
            rows = conn.execute(query).all()
        records = [to_json(keys, row) for row in rows[:limit]]
        cursor = None
        if len(rows) > limit:
            last = records[-1]
            cursor = base64.urlsafe_b64encode(json.dumps([last[sort_key], last["id"]]).encode()).decode()
        return JSONResponse({"records": records, "next_cursor": cursor})

    def _list_query(self, request: Request) -> tuple[sa.Select[Any], tuple[str, ...], str, int]:
        params = request.query_params
        unknown = set(params) - {"filter", "fields", "sort", "limit", "cursor"}
        if unknown:
            raise ApiError(400, f"unknown query parameters {sorted(unknown)}")
        names = [n for n in (params.get("fields") or "").split(",") if n]
        keys = tuple(dict.fromkeys((*SYSTEM_COLUMNS, *names)))
        query = sa.select(*(self._column(name) for name in keys))
        if params.get("filter"):
            try:
                tree = json.loads(params["filter"], parse_float=Decimal)
            except (ValueError, RecursionError):
                raise ApiError(400, "query parameter 'filter' is not valid JSON") from None
            query = query.where(self._condition(tree))
        sort = params.get("sort") or "created_at"
        column = self._column(sort.removeprefix("-"))
        descending = sort.startswith("-")
        limit = _limit(params.get("limit"))
        if params.get("cursor"):
            query = query.where(self._after(column, descending, params["cursor"]))
        order = column.desc().nulls_first() if descending else column.asc().nulls_last()
        query = query.order_by(order, self.deal.c.id).limit(limit + 1)
        if column.name not in keys:
            keys, query = (*keys, column.name), query.add_columns(column)
        return query, keys, column.name, limit

    def _condition(self, tree: Any) -> sa.ColumnElement[bool]:
        if isinstance(tree, dict) and set(tree) == {"and"} and isinstance(tree["and"], list):
            return sa.and_(*(self._condition(t) for t in tree["and"]))
        if isinstance(tree, dict) and set(tree) == {"or"} and isinstance(tree["or"], list):
            return sa.or_(*(self._condition(t) for t in tree["or"]))
        if not isinstance(tree, dict) or set(tree) != {"field", "op", "value"}:
            raise ApiError(400, f"a filter is {{'and': [...]}}, {{'or': [...]}} or {{field, op, value}}, got {tree!r}")
        column, op, value = self._column(tree["field"]), tree["op"], tree["value"]
        check = WRITABLE.get(column.name, lambda v: v)
        try:
            if op == "in" and isinstance(value, list):
                return column.in_([check(v) for v in value])
            operate = _OPERATORS.get(op)
            if operate is None:
                raise ApiError(400, f"unknown operator {op!r}; use {', '.join(_OPERATORS)} or in")
            return operate(column, check(value))
        except ValueError as error:
            raise ApiError(400, f"filter on '{column.name}': the value {error}") from None

    def _after(self, column: sa.Column[Any], descending: bool, cursor: str) -> sa.ColumnElement[bool]:
        try:
            value, last_id = json.loads(base64.urlsafe_b64decode(cursor))
        except ValueError:
            raise ApiError(400, "query parameter 'cursor' is not a cursor this API issued") from None
        same = sa.and_(column.is_(None) if value is None else column == value, self.deal.c.id > last_id)
        if descending:  # NULLs first, then from the largest down
            return sa.or_(same, column.is_not(None)) if value is None else sa.or_(same, column < value)
        return same if value is None else sa.or_(same, column > value, column.is_(None))

    def _column(self, name: str) -> sa.Column[Any]:
        if name not in self.deal.c:
            raise ApiError(400, f"deal has no field {name!r}")
        return self.deal.c[name]

    @contextmanager
    def _transaction(self, request: Request, *, read_only: bool = True) -> Iterator[tuple[Connection, str]]:
        """One transaction for the request, opened by checking its API key."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "send 'Authorization: Bearer <API key>'")
        secret_hash = hashlib.sha256(token.encode()).hexdigest()
        with self.engine.connect() as conn, conn.execution_options(read_only=read_only).begin():
            user_id = conn.execute(sa.select(self.keys.c.user_id).where(
                self.keys.c.secret_hash == secret_hash, self.keys.c.revoked_at.is_(None))).scalar()
            if user_id is None:
                raise ApiError(401, "the API key is not valid")
            yield conn, user_id


_OPERATORS: dict[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
    "eq": lambda c, v: c == v, "ne": lambda c, v: c != v, "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v, "lt": lambda c, v: c < v, "lte": lambda c, v: c <= v,
}


def _limit(raw: str | None) -> int:
    if raw is None:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"query parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


async def _error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": error.message, "errors": error.errors}, status_code=error.status)


def create_app(database_url: str, schema: str | None = None) -> Starlette:
    deal, api_keys = tables(schema)
    return CeilingApi(make_engine(database_url), deal, api_keys).app()
