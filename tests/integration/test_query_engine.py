"""The query engine against a real database: SQLite always, PostgreSQL when configured.

The rows are seeded from Python data, and filters and sorts are checked against a small
reference model of the same semantics (NULL never equals, ne / not_in / not include NULL,
NULL sorts as the largest value), so every operator is checked on every backend.
"""

from __future__ import annotations

import os
import string
import uuid
from datetime import date, datetime, timedelta, UTC
from decimal import Decimal
from typing import Any
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef, OnDelete, PicklistValue
from rapport.platform.db import make_engine
from rapport.platform.errors import InvalidRequest
from rapport.runtime.compiled import compile_org
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.query import QuerySpec, run_query
from rapport.runtime.query.joins import JoinPaths
from rapport.runtime.query.spec import encode_cursor

PG_URL = os.environ.get("RAPPORT_TEST_DATABASE_URL")


def _picklist(*values: str) -> tuple[PicklistValue, ...]:
    return tuple(PicklistValue(v, v) for v in values)


BUNDLE = Bundle(objects=(
    ObjectDef("account", "Account", "Accounts", soft_delete=True, name_field="name", fields=(
        FieldDef("name", "text", "Name", max_length=255),
        FieldDef("industry", "picklist", "Industry", restricted=True,
                 values=_picklist("Tech", "Finance", "Pharma")),
        FieldDef("revenue", "currency", "Revenue", precision=18, scale=2),
    )),
    ObjectDef("contact", "Contact", "Contacts", fields=(
        FieldDef("last_name", "text", "Last name", max_length=255),
        FieldDef("account", "lookup", "Account", target="account", on_delete=OnDelete.SET_NULL),
        FieldDef("birthdate", "date", "Birthdate"),
    )),
    ObjectDef("deal", "Deal", "Deals", fields=(
        FieldDef("name", "text", "Name", max_length=255),
        FieldDef("amount", "currency", "Amount", precision=18, scale=2),
        FieldDef("stage", "picklist", "Stage", restricted=True, values=_picklist("Open", "Won", "Lost")),
        FieldDef("close_date", "date", "Close date"),
        FieldDef("contact", "lookup", "Contact", target="contact", on_delete=OnDelete.SET_NULL),
        FieldDef("tags", "multipicklist", "Tags", restricted=True, values=_picklist("hot", "cold", "renewal")),
        FieldDef("weighted", "formula", "Weighted", return_type="currency", expression="amount * 2"),
    )),
))
MODEL = compile_org("acme", 1, BUNDLE)
BASE = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _system(prefix: str, i: int, minutes: int, owner: str = "u1", version: int = 1) -> dict[str, Any]:
    stamp = BASE + timedelta(minutes=minutes)
    return {"id": f"{prefix}{i:05d}", "owner": owner, "created_at": stamp, "created_by": owner,
            "updated_at": stamp, "updated_by": owner, "version": version}


ACCOUNTS = [
    {**_system("01A", 1, 1), "name": "Acme", "industry": "Tech", "revenue": Decimal("1000000.00"), "is_deleted": False},
    {**_system("01A", 2, 2), "name": "Globex", "industry": "Finance", "revenue": None, "is_deleted": False},
    {**_system("01A", 3, 3), "name": "Initech", "industry": None, "revenue": Decimal("50000.00"), "is_deleted": False},
    {**_system("01A", 4, 4), "name": "Umbrella", "industry": "Pharma", "revenue": Decimal("7.00"), "is_deleted": True},
]
CONTACTS = [
    {**_system("01C", i, i), "last_name": name, "account": account, "birthdate": birth}
    for i, (name, account, birth) in enumerate([
        ("Smith", "01A00001", date(1980, 5, 1)), ("Jones", "01A00002", None),
        ("Brown", "01A00003", date(1975, 1, 20)), ("O'Neil", None, date(1990, 12, 31)),
        ("Müller", "01A00001", None), ("Davis", "01A00004", date(1985, 7, 4)),
    ], start=1)
]
AMOUNTS = [None, "100", "250.5", "100", "5000", "75", None, "1200"]
TAGS = [None, ";hot;", ";cold;", ";hot;renewal;", ";hot;cold;renewal;"]
DEALS = [
    {**_system("01D", i, i // 2, owner="u2" if i % 5 == 0 else "u1", version=2 if i % 4 == 0 else 1),
     "name": "Promo 50% off_x" if i == 24 else f"Deal {i:02d}",
     "amount": None if AMOUNTS[i % 8] is None else Decimal(AMOUNTS[i % 8]).quantize(Decimal("0.01")),
     "stage": None if i % 7 == 3 else ["Open", "Won", "Lost", "Open", "Won"][i % 5],
     "close_date": None if i % 4 == 1 else date(2026, 1, 1) + timedelta(days=10 * (i % 6)),
     "contact": [c["id"] for c in CONTACTS][i % 7] if i % 7 < 6 else None,
     "tags": TAGS[(i * 2) % 5]}
    for i in range(25)
]
DEAL_IDS = [d["id"] for d in DEALS]


# -- fixtures --------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'query.db'}")
        yield eng
        eng.dispose()
        return
    if not PG_URL:
        pytest.skip("RAPPORT_TEST_DATABASE_URL is not set")
    base = make_engine(PG_URL)
    schema = f"query_{uuid.uuid4().hex[:12]}"
    with base.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        yield base.execution_options(schema_translate_map={None: schema})
    finally:
        with base.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        base.dispose()


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.begin() as connection:
        MODEL.metadata.create_all(connection)
        for name, rows in (("account", ACCOUNTS), ("contact", CONTACTS), ("deal", DEALS)):
            connection.execute(MODEL.object(name).table.insert(), rows)
    with engine.connect() as connection:
        yield connection


def query(conn: sa.Connection, obj: str = "deal", **options: Any) -> Any:
    options.setdefault("limit", 200)
    return run_query(conn, MODEL, QuerySpec(obj, **options))


def ids(conn: sa.Connection, **options: Any) -> list[str]:
    return [r["id"] for r in query(conn, fields=(), **options).records]


# -- the reference model ---------------------------------------------------------------

def value_at(deal: dict[str, Any], path: str) -> Any:
    """The stored value at a dotted path; soft-deleted looked-up records count as absent."""
    record: dict[str, Any] | None = deal
    *hops, last = path.split(".")
    tables = {"contact": CONTACTS, "account": ACCOUNTS}
    for hop in hops:
        target = record.get(hop) if record else None
        record = next((r for r in tables[hop] if r["id"] == target and not r.get("is_deleted")), None)
    return record.get(last) if record else None


def matches(value: Any, op: str, operand: Any) -> bool:
    if op == "is_null":
        return (value is None) == operand
    if value is None:
        return op in ("ne", "not_in", "not_contains")
    tests = {
        "eq": lambda: value == operand, "ne": lambda: value != operand,
        "lt": lambda: value < operand, "lte": lambda: value <= operand,
        "gt": lambda: value > operand, "gte": lambda: value >= operand,
        "in": lambda: value in operand, "not_in": lambda: value not in operand,
        "starts_with": lambda: value.lower().startswith(operand.lower()),
        # multipicklist values are stored ';a;b;', and their contains means "includes"
        "contains": lambda: (f";{operand};" in value if value.startswith(";") else operand.lower() in value.lower()),
        "not_contains": lambda: f";{operand};" not in value,
    }
    return tests[op]()


def expected_ids(path: str, op: str, raw: Any) -> set[str]:
    resolved = JoinPaths(MODEL, MODEL.object("deal")).resolve(path)
    operand = raw if op == "is_null" else resolved.field.type.coerce_operand(op, raw, resolved.field.defn)
    return {d["id"] for d in DEALS if matches(value_at(d, path), op, operand)}


def expected_order(sort: list[str]) -> list[str]:
    rows = list(DEALS)
    for token in reversed([*sort, "id"]):
        path, desc = token.lstrip("-"), token.startswith("-")
        rows.sort(key=lambda d: (value_at(d, path) is None, value_at(d, path) or 0), reverse=desc)
    return [d["id"] for d in rows]


CONDITIONS: list[tuple[str, str, Any]] = [
    ("name", "eq", "Deal 03"), ("name", "ne", "Deal 03"), ("name", "lt", "Deal 05"),
    ("name", "lte", "Deal 05"), ("name", "gt", "Deal 20"), ("name", "gte", "Deal 20"),
    ("name", "in", ["Deal 01", "Deal 02", "nope"]), ("name", "not_in", ["Deal 01"]),
    ("name", "contains", "AL 1"), ("name", "contains", "50%"), ("name", "contains", "f_x"),
    ("name", "starts_with", "deal 2"), ("name", "is_null", False),
    ("amount", "eq", 100), ("amount", "ne", "100"), ("amount", "lt", 250.5), ("amount", "lte", 250.5),
    ("amount", "gt", 100), ("amount", "gte", 1200), ("amount", "in", [75, 5000]),
    ("amount", "not_in", [100]), ("amount", "is_null", True), ("amount", "is_null", False),
    ("stage", "eq", "Won"), ("stage", "ne", "Won"), ("stage", "lt", "Open"), ("stage", "lte", "Open"),
    ("stage", "gt", "Open"), ("stage", "gte", "Open"), ("stage", "in", ["Won", "Lost"]),
    ("stage", "not_in", ["Open"]), ("stage", "contains", "Won"), ("stage", "starts_with", "Lost"),
    ("stage", "is_null", True),
    ("close_date", "eq", "2026-01-11"), ("close_date", "ne", "2026-01-11"), ("close_date", "lt", "2026-01-21"),
    ("close_date", "lte", "2026-01-21"), ("close_date", "gt", "2026-01-31"), ("close_date", "gte", "2026-01-31"),
    ("close_date", "in", ["2026-01-01", "2026-02-20"]), ("close_date", "not_in", ["2026-01-01"]),
    ("close_date", "is_null", True),
    ("tags", "eq", ["renewal", "hot"]), ("tags", "ne", ["hot"]), ("tags", "contains", "cold"),
    ("tags", "not_contains", "hot"), ("tags", "is_null", True),
    ("contact", "eq", "01C00002"), ("contact", "ne", "01C00002"), ("contact", "in", ["01C00001", "01C00006"]),
    ("contact", "not_in", ["01C00001"]), ("contact", "is_null", True),
    ("id", "eq", "01D00007"), ("id", "gt", "01D00020"), ("owner", "eq", "u2"), ("created_by", "ne", "u1"),
    ("created_at", "gt", "2026-01-01T09:05:00Z"), ("updated_at", "lte", "2026-01-01T10:03:00+01:00"),
    ("created_at", "in", ["2026-01-01T09:00:00Z"]), ("created_at", "eq", "2026-01-01T09:03:00Z"),
    ("created_at", "ne", "2026-01-01T09:03:00Z"), ("created_at", "lt", "2026-01-01T09:03:00Z"),
    ("updated_at", "gte", "2026-01-01T09:11:00Z"), ("created_at", "not_in", ["2026-01-01T09:00:00Z"]),
    ("updated_at", "is_null", False), ("version", "eq", 2), ("version", "ne", 2), ("version", "lt", 2),
    ("version", "lte", 1), ("version", "gt", 1), ("version", "gte", 2), ("version", "in", [2, 3]),
    ("version", "not_in", [2]), ("version", "is_null", True), ("name", "is_null", True),
    ("contact.last_name", "starts_with", "m"), ("contact.birthdate", "lt", "1982-01-01"),
    ("contact.account", "is_null", True), ("contact.account.name", "eq", "Acme"),
    ("contact.account.industry", "in", ["Tech", "Finance"]), ("contact.account.revenue", "gte", 50000),
    ("contact.account.industry", "is_null", True),
]


# -- filters ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "op", "value"), CONDITIONS, ids=lambda v: str(v)[:20])
def test_each_operator_matches_the_reference_model(conn: sa.Connection, path: str, op: str, value: Any) -> None:
    got = ids(conn, filter={"field": path, "op": op, "value": value})
    assert set(got) == expected_ids(path, op, value)
    assert len(got) == len(set(got))


def test_the_conditions_cover_every_operator_of_every_type_used() -> None:
    paths = JoinPaths(MODEL, MODEL.object("deal"))
    covered: dict[str, set[str]] = {}
    for path, op, _ in CONDITIONS:
        covered.setdefault(paths.resolve(path).field.type.name, set()).add(op)
    for type_name, ops in covered.items():
        assert set(FIELD_TYPES[type_name].operators) | {"is_null"} <= ops, type_name
    assert set(covered) == {"text", "currency", "picklist", "date", "multipicklist", "lookup",
                            "datetime", "integer"}


def test_and_or_not_nest(conn: sa.Connection) -> None:
    tree = {"or": [
        {"and": [{"field": "amount", "op": "gte", "value": 100}, {"field": "stage", "op": "eq", "value": "Open"}]},
        {"not": {"or": [{"field": "amount", "op": "gt", "value": 10},
                        {"field": "contact.account.name", "op": "eq", "value": "Acme"}]}},
    ]}
    want = {d["id"] for d in DEALS
            if (d["amount"] is not None and d["amount"] >= 100 and d["stage"] == "Open")
            or not ((d["amount"] is not None and d["amount"] > 10) or value_at(d, "contact.account.name") == "Acme")}
    assert set(ids(conn, filter=tree)) == want
    # "not" of a condition that is null for a record holds for it
    assert set(ids(conn, filter={"not": {"field": "amount", "op": "gt", "value": 100}})) == {
        d["id"] for d in DEALS if d["amount"] is None or d["amount"] <= 100}
    assert len(ids(conn, filter={"and": []})) == 25
    assert ids(conn, filter={"or": []}) == []


def test_bad_filters_report_every_problem_with_its_pointer(conn: sa.Connection) -> None:
    tree = {"and": [
        {"field": "nope", "op": "eq", "value": 1},
        {"field": "stage", "op": "gt_or_so", "value": "Won"},
        {"field": "amount", "op": "gt", "value": "lots"},
        {"field": "stage", "op": "eq"},
        ["not", "a", "node"],
        {"not": {"field": "close_date", "op": "is_null", "value": "yes"}},
        {"field": "contact.account.owner.name", "op": "eq", "value": "x"},
        {"field": "stage", "op": "in", "value": []},
        {"and": {"field": "name", "op": "eq", "value": "x"}},
        {"field": "contact.last_name.x", "op": "eq", "value": "x"},
        {"field": "name", "op": "eq", "value": None},
    ]}
    with pytest.raises(InvalidRequest) as caught:
        query(conn, filter=tree)
    error = caught.value
    assert error.code == "query.bad_filter"
    assert error.message == "the filter on object 'deal' is not valid (11 problems)"
    assert [(p.pointer, p.code) for p in error.problems] == [
        ("/filter/and/0/field", "query.unknown_field"),
        ("/filter/and/1/op", "query.bad_operator"),
        ("/filter/and/2/value", "query.bad_operand"),
        ("/filter/and/3", "query.bad_filter"),
        ("/filter/and/4", "query.bad_filter"),
        ("/filter/and/5/not/value", "query.bad_operand"),
        ("/filter/and/6/field", "query.not_supported"),
        ("/filter/and/7/value", "query.bad_operand"),
        ("/filter/and/8/and", "query.bad_filter"),
        ("/filter/and/9/field", "query.unknown_field"),
        ("/filter/and/10/value", "query.bad_operand"),
    ]
    messages = [p.message for p in error.problems]
    assert messages[0] == ("object 'deal' has no field 'nope' (fields: amount, close_date, contact, created_at, "
                           "created_by, id, name, owner, stage, tags, updated_at, updated_by, version, weighted)")
    assert messages[1] == ("operator 'gt_or_so' is not available for field 'stage' (picklist); allowed: "
                           "eq, ne, in, not_in, lt, lte, gt, gte, contains, starts_with, is_null")
    assert messages[2] == "operator 'gt' on field 'amount': expected a number, got 'lots'"
    assert messages[3] == "a condition needs 'field', 'op' and 'value'; missing 'value'"
    assert messages[5] == "operator 'is_null' on field 'close_date' takes true or false, got the string 'yes'"
    assert messages[9] == ("field 'last_name' of object 'contact' is not a lookup, "
                            "so 'contact.last_name.x' cannot follow it")


def test_malformed_root_and_extra_keys(conn: sa.Connection) -> None:
    for tree, message in [
        ("amount > 5", "expected an object, got the string 'amount > 5'"),
        ({"field": "name", "op": "eq", "value": "x", "extra": 1},
         "a condition has only the keys 'field', 'op' and 'value'; unexpected 'extra'"),
        ({"and": [], "or": []}, "got 'and', 'or'; a filter node is one of"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            query(conn, filter=tree)
        (problem,) = caught.value.problems
        assert (problem.pointer, problem.code) == ("/filter", "query.bad_filter")
        assert problem.message.startswith(message)


# -- fields, sorts, serialisation ------------------------------------------------------

def test_records_are_flat_and_serialised_by_field_type(conn: sa.Connection) -> None:
    fields = ("name", "amount", "tags", "close_date", "contact", "contact.last_name",
              "contact.account.name", "contact.account.revenue", "contact.account.created_at", "weighted")
    (record,) = query(conn, fields=fields, filter={"field": "id", "op": "eq", "value": "01D00002"}).records
    assert record == {
        "id": "01D00002", "owner": "u1", "created_at": "2026-01-01T09:01:00Z", "created_by": "u1",
        "updated_at": "2026-01-01T09:01:00Z", "updated_by": "u1", "version": 1,
        "name": "Deal 02", "amount": 250.5, "tags": ["hot", "cold", "renewal"], "close_date": "2026-01-21",
        "contact": "01C00003", "contact.last_name": "Brown", "contact.account.name": "Initech",
        "contact.account.revenue": 50000, "contact.account.created_at": "2026-01-01T09:03:00Z",
        "weighted": 501.0,
    }
    default = query(conn, filter={"field": "id", "op": "eq", "value": "01D00000"}).records[0]
    assert list(default) == ["id", "owner", "created_at", "created_by", "updated_at", "updated_by",
                             "version", "name", "amount", "stage", "close_date", "contact", "tags", "weighted"]
    assert default["amount"] is None and default["tags"] == [] and default["version"] == 2
    assert default["weighted"] is None  # a formula over a blank number is blank


def test_default_sort_is_newest_first_with_id_breaking_ties(conn: sa.Connection) -> None:
    assert ids(conn) == list(reversed(DEAL_IDS))


@pytest.mark.parametrize("sort", [
    ["amount"], ["-amount"], ["stage", "-close_date", "amount"], ["-stage", "close_date"],
    ["contact.account.name", "-amount"], ["-contact.birthdate", "name"], ["-contact.account.revenue"],
])
def test_sorts_put_nulls_last_ascending_and_first_descending(conn: sa.Connection, sort: list[str]) -> None:
    assert ids(conn, sort=tuple(sort)) == expected_order(sort)


def test_lookup_paths_share_one_join_per_prefix() -> None:
    paths = JoinPaths(MODEL, MODEL.object("deal"))
    for path in ("contact.last_name", "contact.account.name", "contact.account.industry", "contact.birthdate"):
        paths.resolve(path)
    assert paths.join_count == 2
    assert str(paths.from_clause()).count("LEFT OUTER JOIN") == 2


def test_unknown_fields_and_sort_keys_name_the_object_and_its_fields(conn: sa.Connection) -> None:
    with pytest.raises(InvalidRequest) as caught:
        query(conn, fields=("name", "colour"), sort=("-contact.account.size",))
    error = caught.value
    assert error.code == "query.unknown_field"
    assert [(p.pointer, p.code) for p in error.problems] == [
        ("/fields/1", "query.unknown_field"), ("/sort/0", "query.unknown_field")]
    assert error.problems[1].message == (
        "object 'account' has no field 'size' (fields: created_at, created_by, id, industry, name, owner, "
        "revenue, updated_at, updated_by, version)")


def test_soft_deleted_records_are_left_out_unless_asked_for(conn: sa.Connection) -> None:
    assert [r["name"] for r in query(conn, "account", sort=("name",)).records] == ["Acme", "Globex", "Initech"]
    everything = query(conn, "account", sort=("name",), include_deleted=True, count=True)
    assert everything.total == 4 and everything.records[-1]["name"] == "Umbrella"
    spec = {"fields": ("account.name",), "filter": {"field": "id", "op": "eq", "value": "01C00006"}}
    assert query(conn, "contact", **spec).records[0]["account.name"] is None
    assert query(conn, "contact", include_deleted=True, **spec).records[0]["account.name"] == "Umbrella"


# -- paging and counting ---------------------------------------------------------------

@pytest.mark.parametrize(("sort", "size"), [
    ((), 4), (("amount",), 3), (("-amount",), 1), (("stage", "-close_date"), 4),
    (("-contact.birthdate", "amount"), 5), (("contact.account.name", "-tags"), 2), (("-id",), 7),
])
def test_cursors_page_through_every_row_once_in_order(conn: sa.Connection, sort: tuple[str, ...], size: int) -> None:
    tree = {"field": "name", "op": "ne", "value": "Deal 13"}
    whole = ids(conn, sort=sort, filter=tree)
    seen: list[str] = []
    cursor = None
    for _ in range(30):
        page = query(conn, fields=(), sort=sort, filter=tree, limit=size, cursor=cursor, count=True)
        assert page.total == 24 and len(page.records) <= size
        seen += [r["id"] for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == whole
    assert len(set(seen)) == 24


def test_count_ignores_the_cursor_and_survives_an_empty_page(conn: sa.Connection) -> None:
    tree = {"field": "amount", "op": "eq", "value": 100}
    first = query(conn, filter=tree, limit=4, count=True, sort=("id",))
    assert first.total == 6 and len(first.records) == 4 and first.next_cursor
    assert query(conn, filter=tree, limit=4, cursor=first.next_cursor, sort=("id",)).total is None
    table = MODEL.object("deal").table
    conn.execute(sa.update(table).where(table.c.id > first.records[-1]["id"]).values(amount=None))
    conn.commit()
    empty = query(conn, filter=tree, limit=4, cursor=first.next_cursor, count=True, sort=("id",))
    assert (empty.records, empty.total, empty.next_cursor) == ([], 4, None)
    none = query(conn, filter={"field": "name", "op": "eq", "value": "x"}, count=True)
    assert (none.records, none.total) == ([], 0)


def test_page_size_default_cap_and_bounds(conn: sa.Connection) -> None:
    assert len(run_query(conn, MODEL, QuerySpec("deal"), page_size_default=10).records) == 10
    assert len(run_query(conn, MODEL, QuerySpec("deal")).records) == 25
    with pytest.raises(InvalidRequest) as caught:
        run_query(conn, MODEL, QuerySpec("deal", limit=201))
    assert caught.value.code == "query.page_size_too_large"
    assert caught.value.message == "the page size 201 is above the maximum of 200"
    for bad in (0, -1):
        with pytest.raises(InvalidRequest) as caught:
            run_query(conn, MODEL, QuerySpec("deal", limit=bad))
        assert caught.value.code == "query.bad_limit"


def test_a_cursor_only_fits_its_own_object_and_sort(conn: sa.Connection) -> None:
    cursor = query(conn, sort=("-amount",), limit=2).next_cursor
    assert cursor and set(cursor) <= set(string.ascii_letters + string.digits + "-_")
    with pytest.raises(InvalidRequest) as caught:
        query(conn, sort=("amount",), cursor=cursor)
    assert caught.value.code == "query.bad_cursor"
    assert caught.value.message == (
        "the cursor was issued for object 'deal' sorted by -amount, id, not for object 'deal' sorted by "
        "amount, id; use the same sort or start without a cursor")
    with pytest.raises(InvalidRequest) as caught:
        query(conn, "contact", cursor=query(conn, limit=2).next_cursor)
    assert caught.value.code == "query.bad_cursor"
    tampered = encode_cursor("deal", ["-amount", "id"], ["lots", "01D00001"])
    for garbage in ("not-a-cursor", "e30", cursor[:-3], tampered, 42):
        with pytest.raises(InvalidRequest) as caught:
            query(conn, sort=("-amount",), cursor=garbage)
        assert caught.value.code == "query.bad_cursor"


# -- one statement per query -----------------------------------------------------------

def test_one_statement_per_query_with_two_joins_and_count(engine: sa.Engine, conn: sa.Connection) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    spec = {"fields": ("name", "contact.last_name", "contact.account.name"),
            "filter": {"field": "contact.account.industry", "op": "in", "value": ["Tech", "Finance"]},
            "sort": ("contact.account.name", "-amount"), "limit": 2, "count": True}
    first = query(conn, **spec)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = query(conn, cursor=first.next_cursor, **spec)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1
    assert statements[0].count("LEFT OUTER JOIN") == 5  # 2 in the page, 2 in the count, total ⟕ page
    assert page.total == first.total == len(expected_ids("contact.account.industry", "in", ["Tech", "Finance"]))
