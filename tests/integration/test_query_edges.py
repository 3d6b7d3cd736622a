"""Query edge cases found in review: boolean sort keys, inactive picklist values, is_deleted."""

from __future__ import annotations

from typing import Any

from rapport.runtime.query import QuerySpec
from tests.support.bundles import make_object, minimal

PICK = {"name": "p", "label": "P", "type": "picklist",
        "values": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}


def all_pages(org: Any, spec: QuerySpec) -> list[str]:
    names, cursor = [], None
    while True:
        page = org.query(QuerySpec(spec.object, sort=spec.sort, limit=2, cursor=cursor, fields=("name",)))
        names += [r["name"] for r in page.records]
        if page.next_cursor is None:
            return names
        cursor = page.next_cursor


def test_pages_sorted_by_a_boolean(org: Any) -> None:
    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"},
                                           {"name": "ok", "label": "OK", "type": "boolean"})), author="t")
    org.records().create_many("t", [{"name": str(i), "ok": i % 2 == 0} for i in range(7)])
    for sort in (("ok", "name"), ("-ok", "name")):
        expected = [r["name"] for r in org.query(QuerySpec("t", sort=sort, limit=50, fields=("name",))).records]
        assert all_pages(org, QuerySpec("t", sort=sort)) == expected


def test_inactive_values_can_still_be_found(org: Any) -> None:
    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"}, PICK)), author="t")
    org.records().create("t", {"name": "old", "p": "a"})
    retired = {**PICK, "values": [{"value": "a", "label": "A", "active": False}, {"value": "b", "label": "B"}]}
    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"}, retired)), author="t")
    found = org.query(QuerySpec("t", filter={"field": "p", "op": "eq", "value": "a"})).records
    assert [r["name"] for r in found] == ["old"]


def test_is_deleted_is_readable_with_deleted_records(org: Any) -> None:
    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"},
                                           soft_delete=True)), author="t")
    kept, gone = org.records().create_many("t", [{"name": "kept"}, {"name": "gone"}])
    org.records().delete("t", gone["id"])
    rows = org.query(QuerySpec("t", include_deleted=True, fields=("name", "is_deleted"), sort=("name",))).records
    assert [(r["name"], r["is_deleted"]) for r in rows] == [("gone", True), ("kept", False)]
    live = org.query(QuerySpec("t", filter={"field": "is_deleted", "op": "eq", "value": False})).records
    assert [r["name"] for r in live] == ["kept"]


def test_oversized_filters_and_tampered_cursors_get_coded_errors(org: Any) -> None:
    import base64
    import json

    import pytest

    from rapport.platform.errors import InvalidRequest

    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"},
                                           {"name": "n", "label": "N", "type": "integer"})), author="t")
    org.records().create_many("t", [{"name": str(i), "n": i} for i in range(3)])
    leaf: dict[str, Any] = {"field": "n", "op": "eq", "value": 1}
    deep: dict[str, Any] = leaf
    for _ in range(300):
        deep = {"not": deep}
    wide = {"or": [leaf] * 1000}
    long_in = {"field": "n", "op": "in", "value": list(range(300_000))}
    many_lists = {"and": [{"field": "n", "op": "in", "value": list(range(1000))}] * 66}  # > 65,535 parameters
    for tree in (deep, wide, long_in, many_lists):
        with pytest.raises(InvalidRequest) as caught:
            org.query(QuerySpec("t", filter=tree))
        assert caught.value.code == "query.bad_filter"
        assert {p.code for p in caught.value.problems} == {"query.filter_too_complex"}
    assert [p.pointer for p in caught.value.problems] == ["/filter/and/10/value"]  # said once, where 10,000 are passed

    page = org.query(QuerySpec("t", sort=("n",), limit=1))
    payload = json.loads(base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)))
    for bad_value in ({"i": 10**30}, {"s": "\ud800"}, {"d": "2020-01-01"}, {"s": "a\u0000"}):
        payload["k"][0] = bad_value
        forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        with pytest.raises(InvalidRequest) as caught:
            org.query(QuerySpec("t", sort=("n",), limit=1, cursor=forged))
        assert caught.value.code == "query.bad_cursor"
    deep_json = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(InvalidRequest) as caught:
        org.query(QuerySpec("t", sort=("n",), cursor=deep_json))
    assert caught.value.code == "query.bad_cursor"


def test_contains_ignores_case_beyond_ascii(org: Any) -> None:
    org.metadata.apply(minimal(make_object("t", {"name": "name", "label": "N", "type": "text"})), author="t")
    org.records().create_many("t", [{"name": "Élan Vital"}, {"name": "Øresund"}, {"name": "plain"}])
    for op, value, expected in (("contains", "élan", ["Élan Vital"]), ("starts_with", "ØRE", ["Øresund"]),
                                ("contains", "VITAL", ["Élan Vital"])):
        found = org.query(QuerySpec("t", filter={"field": "name", "op": op, "value": value})).records
        assert [r["name"] for r in found] == expected
