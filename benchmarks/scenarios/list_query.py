"""(c) A first-page list query with a filter, a sort and one lookup join.

The query engine (``org.query``) against the hand-written Core query a developer would
write for the same page: the same columns from deal LEFT OUTER JOIN account, the same
conditions, ``ORDER BY amount DESC, id LIMIT 51``, rows turned into the same JSON-ready
dicts. Both read in their own transaction; the two alternate run by run so that caching
and background noise weigh on both alike. Their pages are checked to be identical first.
"""

from __future__ import annotations

from datetime import date, datetime, UTC
from typing import Any
from collections.abc import Callable

import sqlalchemy as sa

from benchmarks.data import filled_sales_org
from benchmarks.harness import Bench, Result, Target, median_ms, p95_ms
from rapport.runtime.org import OrgRuntime
from rapport.runtime.query import QuerySpec

TITLE = "(c) list query"
PAGE = 50
SPEC = QuerySpec(
    "deal",
    filter={"and": [{"field": "stage", "op": "eq", "value": "proposal"},
                    {"field": "amount", "op": "gt", "value": 1000}]},
    fields=("name", "amount", "stage", "close_date", "account.name"),
    sort=("-amount",),
    limit=PAGE,
)
SYSTEM_COLUMNS = ("id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version")
DEAL_COLUMNS = ("name", "amount", "stage", "close_date")
Page = Callable[[], list[dict[str, Any]]]


def run(bench: Bench) -> list[Result]:
    org = filled_sales_org(bench)
    core_page = _core_page(org)

    def engine_page() -> list[dict[str, Any]]:
        return org.query(SPEC).records

    if engine_page() != core_page():
        raise RuntimeError("the hand-written query returns a different page than the query engine")

    for _ in range(bench.scale.query_warmup):
        engine_page(), core_page()
    engine_s: list[float] = []
    core_s: list[float] = []
    for _ in range(bench.scale.query_runs):
        engine_s.append(bench.timed(engine_page))
        core_s.append(bench.timed(core_page))

    engine_ms, core_ms = median_ms(engine_s), median_ms(core_s)
    runs = f"{len(engine_s)} runs"
    return [
        bench.result(TITLE, f"org.query, {runs}", _figure(engine_s), engine_ms, Target("<", 10, " ms median")),
        bench.result(TITLE, f"hand-written Core, {runs}", _figure(core_s), core_ms),
        bench.result(TITLE, "engine / Core (medians)", f"{engine_ms / core_ms:.3f}×", engine_ms / core_ms,
                     Target("<=", 1.5, "×")),
    ]


def _figure(samples: list[float]) -> str:
    return f"median {median_ms(samples):.2f} ms, p95 {p95_ms(samples):.2f} ms"


def _core_page(org: OrgRuntime) -> Page:
    model = org.model()
    deal = model.object("deal").table
    account = model.object("account").table.alias("account")
    columns = [deal.c[name] for name in (*SYSTEM_COLUMNS, *DEAL_COLUMNS)] + [account.c.name]
    keys = (*SYSTEM_COLUMNS, *DEAL_COLUMNS, "account.name")
    to_json = [_JSON.get(key, _same) for key in keys]

    def page() -> list[dict[str, Any]]:
        query = (sa.select(*columns)
                 .select_from(deal.outerjoin(account, account.c.id == deal.c.account))
                 .where(deal.c.stage == "proposal", deal.c.amount > 1000)
                 .order_by(deal.c.amount.desc(), deal.c.id)
                 .limit(PAGE + 1))
        with org.location.read() as conn:
            rows = conn.execute(query).all()
        return [{key: convert(value) for key, convert, value in zip(keys, to_json, row, strict=True)}
                for row in rows[:PAGE]]
    return page


def _same(value: Any) -> Any:
    return value


def _utc_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


_JSON: dict[str, Callable[[Any], Any]] = {
    "created_at": _utc_text, "updated_at": _utc_text, "amount": _number, "close_date": _date_text,
}
