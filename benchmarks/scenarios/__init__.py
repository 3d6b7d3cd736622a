"""The scenarios, in the order they run (the query and schema scenarios reuse the deals the
bulk scenario writes; the formula scenarios, the API one and the pages one make orgs of their
own). Each module has ``TITLE`` and ``run(bench) -> list[Result]``."""

from __future__ import annotations

from types import ModuleType

from benchmarks.scenarios import (
    add_field, api_throughput, bulk_create, formula_query, formula_rule, list_query, page_time, scripts,
    single_create, wide_org,
)

SCENARIOS: dict[str, ModuleType] = {
    "single": single_create,
    "bulk": bulk_create,
    "query": list_query,
    "add-field": add_field,
    "wide": wide_org,
    "formula-rule": formula_rule,
    "formula-query": formula_query,
    "api": api_throughput,
    "pages": page_time,
    "scripts": scripts,
}
