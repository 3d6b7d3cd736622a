"""docs/formulas.md tells the truth.

(a) Its function reference documents every registered function and operator, under the
registry's own signature, with at least one example, and documents nothing else.
(b) Every row of every ``| Example | Result |`` table of the doc — its result must be a formula
literal (``"Rap"``, ``3``, ``true``, ``null``), a date (``2026-02-28``), a date/time
(``2026-12-01T09:30:00Z``) or ``error`` — is evaluated on the doc's example deal, in Python
(as rules run) and in SQL on in-memory SQLite (as formula fields are queried), and gives that
result. ``error`` means: Python raises a formula run-time error, SQL gives null. SQLite
computes numbers as 64-bit floats (and an unscaled SQL number is read back to 10 decimal
places), so SQL numbers are compared to 12 significant digits or 10 places, whichever is
coarser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rapport.platform.db import make_engine
from rapport.runtime.compiled import CompiledOrg, compile_org
from rapport.runtime.formula import (
    FUNCTIONS, Env, Scope, SqlContext, Typed, Use, check, compile_python, compile_sql, parse, related_paths,
)
from rapport.runtime.formula.syntax import Literal
from rapport.runtime.formula.typed import TCall, walk
from rapport.runtime.loading import load
from rapport.runtime.query.joins import JoinPaths
from rapport.runtime.records.formulas import RUNTIME_ERRORS

DOC = Path(__file__).resolve().parents[2] / "docs" / "formulas.md"
REFERENCE = "## Function reference"
ERROR = object()  # the expected result "error"


# -- the doc's tables ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    line: int
    section: str  # the "## " heading the table is under
    cells: dict[str, str]


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [cell.strip().replace(r"\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def _rows(text: str) -> Iterator[Row]:
    section, header = "", None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            section = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = cells
        elif not all(set(cell) <= {"-", " ", ":"} for cell in cells):
            yield Row(number, section, dict(zip(header, cells)))


def _code(cell: str) -> str:
    match = re.fullmatch(r"`(.+)`", cell)
    assert match, f"expected one `code` span, got {cell!r}"
    return match.group(1)


ROWS = list(_rows(DOC.read_text("utf-8")))
EXAMPLES = [row for row in ROWS if "Example" in row.cells and "Result" in row.cells]


def _documented_name(signature: str) -> str:
    if match := re.match(r"([A-Z]+)\(", signature):
        return match.group(1)
    if match := re.fullmatch(r"a (\S+) b", signature):
        return match.group(1)
    if match := re.fullmatch(r"([-+!])a", signature):
        return {"-": "NEG", "+": "POS", "!": "!"}[match.group(1)]
    raise AssertionError(f"{signature!r} is not a function or operator signature")


def _reference() -> dict[str, tuple[str, int]]:
    """Documented name → (documented signature, number of examples)."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for row in EXAMPLES:
        if row.section != REFERENCE:
            continue
        if row.cells.get("Function"):
            signature = _code(row.cells["Function"])
            current = _documented_name(signature)
            assert current not in out, f"line {row.line}: {current} is documented twice"
            out[current] = (signature, 0)
        assert current is not None, f"line {row.line}: an example before any function"
        signature, count = out[current]
        out[current] = (signature, count + 1)
    return out


def test_every_function_and_operator_is_documented_with_its_signature() -> None:
    documented = _reference()
    assert sorted(set(FUNCTIONS) - set(documented)) == []  # registered, not documented
    assert sorted(set(documented) - set(FUNCTIONS)) == []  # documented, not registered
    for name, (signature, examples) in documented.items():
        assert signature == FUNCTIONS[name].signature, name
        assert examples >= 1, name


# -- the example deal -------------------------------------------------------------------------

def _values(*names: str) -> list[dict[str, str]]:
    return [{"value": name, "label": name.title()} for name in names]


BUNDLE = {"objects": [
    {"name": "account", "label": "Account", "fields": [
        {"name": "name", "label": "Name", "type": "text"},
        {"name": "industry", "label": "Industry", "type": "picklist", "values": _values("technology", "retail")},
        {"name": "employees", "label": "Employees", "type": "integer"},
    ]},
    {"name": "deal", "label": "Deal", "fields": [
        {"name": "name", "label": "Name", "type": "text"},
        {"name": "account", "label": "Account", "type": "lookup", "target": "account"},
        {"name": "amount", "label": "Amount", "type": "currency"},
        {"name": "discount", "label": "Discount", "type": "currency"},
        {"name": "probability", "label": "Probability", "type": "percent"},
        {"name": "quantity", "label": "Quantity", "type": "integer"},
        {"name": "stage", "label": "Stage", "type": "picklist",
         "values": _values("prospecting", "proposal", "won", "lost")},
        {"name": "regions", "label": "Regions", "type": "multipicklist", "values": _values("emea", "apac", "amer")},
        {"name": "close_date", "label": "Close date", "type": "date"},
        {"name": "closed_at", "label": "Closed at", "type": "datetime"},
        {"name": "phone", "label": "Phone", "type": "phone"},
        {"name": "next_step", "label": "Next step", "type": "textarea"},
        {"name": "priority", "label": "Priority", "type": "boolean"},
        {"name": "weighted", "label": "Weighted", "type": "formula", "expression": "amount * probability / 100"},
    ]},
]}
ACCOUNT = {"id": "acc1", "name": "Acme Corp", "industry": "retail", "employees": 250}
DEAL = {"id": "deal1", "name": "Acme Widget", "account": "acc1", "amount": 5000, "discount": None,
        "probability": 40, "quantity": 7, "stage": "won", "regions": ["emea", "apac"], "close_date": "2026-03-31",
        "closed_at": "2026-03-30T14:45:00Z", "phone": "555-1234", "next_step": None, "priority": True}
BEFORE_UPDATE = {"amount": 4000, "stage": "proposal"}
SYSTEM = {"owner": "u1", "created_at": datetime(2026, 1, 15, 10, tzinfo=UTC), "created_by": "u1",
          "updated_at": datetime(2026, 3, 30, 14, 45, tzinfo=UTC), "updated_by": "u1", "version": 3}
ENV = Env(user_id="u1", user_name="Ann Admin", org_id="o1", org_name="acme",
          now=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))


@dataclass(frozen=True)
class World:
    model: CompiledOrg
    rows: dict[str, dict[str, dict[str, Any]]]  # object → id → stored values
    deal: dict[str, Any]
    prior: dict[str, Any]
    engine: sa.Engine


def _stored(model: CompiledOrg, object_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Values as the record service stores them (coerced by each field's type)."""
    obj = model.object(object_name)
    coerced = {name: obj.fields[name].type.coerce(value, obj.fields[name].defn)
               for name, value in values.items() if name != "id"}
    return {"id": values["id"], **SYSTEM, **coerced}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    model = compile_org("docs", 1, load(BUNDLE))
    account, deal = _stored(model, "account", ACCOUNT), _stored(model, "deal", DEAL)
    prior = {**deal, **_stored(model, "deal", {"id": deal["id"], **BEFORE_UPDATE})}
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        model.metadata.create_all(conn)
        conn.execute(model.object("account").table.insert(), [account])
        conn.execute(model.object("deal").table.insert(), [deal])
    yield World(model, {"account": {account["id"]: account}, "deal": {deal["id"]: deal}}, deal, prior, engine)
    engine.dispose()


def _typed(world: World, formula: str) -> Typed:
    bundle = world.model.bundle
    return check(bundle, bundle.object("deal"), formula, Use("the example", None, allow_prior=True))


def _looked_up(world: World, path: tuple[str, ...]) -> Any:
    obj, row = world.model.object("deal"), world.deal
    for name in path[:-1]:
        target = obj.fields[name].defn.target or ""
        row = world.rows[target].get(row.get(name) or "", {})
        obj = world.model.object(target)
    return row.get(path[-1])


def in_python(world: World, formula: str) -> Any:
    typed = _typed(world, formula)
    related = {".".join(path): _looked_up(world, path) for path in related_paths(typed)}
    return compile_python(typed)(Scope(world.deal, world.prior, related, ENV))


def in_sql(world: World, formula: str) -> Any:
    typed = _typed(world, formula)
    paths = JoinPaths(world.model, world.model.object("deal"), dialect="sqlite", env=ENV)
    context = SqlContext("sqlite", ENV, lambda path: paths.resolve_parts(path).column)
    expression = compile_sql(typed, context)
    with world.engine.connect() as conn:
        return conn.execute(sa.select(expression).select_from(paths.from_clause())).scalar_one()


def sees_prior(world: World, formula: str) -> bool:
    return any(isinstance(node, TCall) and node.fn.needs_prior for node in walk(_typed(world, formula)))


# -- results ------------------------------------------------------------------------------------

def expected(result: str) -> Any:
    """The value a Result cell stands for."""
    if result == "error":
        return ERROR
    if result in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[result]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", result):
        return date.fromisoformat(result)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", result):
        return datetime.fromisoformat(result.replace("Z", "+00:00"))
    if re.fullmatch(r"-?\d+(\.\d+)?", result):
        return Decimal(result)
    node = parse(result)
    assert isinstance(node, Literal) and isinstance(node.value, str), f"{result!r} is not a formula literal"
    return node.value


def same(actual: Any, wanted: Any, *, floating: bool = False) -> bool:
    if isinstance(wanted, bool) or wanted is None:
        return actual is wanted
    if isinstance(wanted, Decimal):
        if not isinstance(actual, Decimal):
            return False
        if not floating:
            return actual == wanted
        return abs(actual - wanted) <= max(Decimal("1e-10"), abs(wanted) * Decimal("1e-12"))
    return type(actual) is type(wanted) and actual == wanted


@pytest.mark.parametrize("row", EXAMPLES, ids=[f"{r.line}:{r.cells['Example']}" for r in EXAMPLES])
def test_example_gives_its_result(world: World, row: Row) -> None:
    formula, wanted = _code(row.cells["Example"]), expected(_code(row.cells["Result"]))

    if wanted is ERROR:
        with pytest.raises(RUNTIME_ERRORS):
            in_python(world, formula)
    else:
        got = in_python(world, formula)
        assert same(got, wanted), f"line {row.line}: {formula} gives {got!r} in Python, the doc says {wanted!r}"

    if sees_prior(world, formula):
        return  # the record before the write exists only in Python
    got = in_sql(world, formula)
    wanted_sql = None if wanted is ERROR else wanted
    assert same(got, wanted_sql, floating=True), \
        f"line {row.line}: {formula} gives {got!r} in SQL, the doc says {wanted!r}"


def test_the_doc_has_examples_for_every_group() -> None:
    groups = {fn.group for fn in FUNCTIONS.values()}
    headings = {line[4:].strip() for line in DOC.read_text("utf-8").splitlines() if line.startswith("### ")}
    assert groups <= headings
    assert len(EXAMPLES) > 150
