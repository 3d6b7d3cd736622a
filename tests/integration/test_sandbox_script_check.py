"""Saving scripts as metadata: one that does not compile is refused by plan and apply, with
one problem per compile problem naming the script, the line and the column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rapport.platform.errors import Problem, ValidationFailed
from tests.support.api import ApiOrg
from tests.support.bundles import edited, sales_bundle

BROKEN = "discount = 0\nif record['amount'] > 1000:\n    _rate = 0.1\n    import os\n"
WORKS = "if record['amount'] > 1000:\n    record['description'] = 'big deal'\n"


def with_script(code: str, *, active: bool = True) -> dict[str, Any]:
    bundle = edited(sales_bundle())
    bundle["scripts"] = [{"name": "set_discount", "object": "deal", "kind": "before_save", "code": code,
                          "active": active}]
    return bundle


EXPECTED = [
    ("/scripts/0/code", "sandbox.compile_error",
     "script 'deal.set_discount', line 3, column 5: names starting with '_' are not allowed: '_rate'"),
    ("/scripts/0/code", "sandbox.compile_error",
     "script 'deal.set_discount', line 4, column 12: module 'os' is not available to scripts; they may import "
     "'datetime', 'decimal', 'json', 'math', 're'"),
]


def problems_of(error: ValidationFailed) -> list[tuple[str, str, str]]:
    return [(p.pointer, p.code, p.message) for p in error.problems]


@pytest.mark.parametrize("active", [True, False])
def test_plan_and_apply_refuse_a_script_that_does_not_compile(org: Any, active: bool) -> None:
    org.metadata.apply(sales_bundle(), author="tests")
    for attempt in (lambda: org.metadata.plan(with_script(BROKEN, active=active)),
                    lambda: org.metadata.apply(with_script(BROKEN, active=active), author="tests")):
        with pytest.raises(ValidationFailed) as caught:
            attempt()
        assert caught.value.code == "metadata.invalid"
        assert problems_of(caught.value) == EXPECTED
    assert org.metadata.bundle().scripts == ()  # nothing was written
    assert len(org.metadata.revisions()) == 1


def test_a_script_that_compiles_is_applied(org: Any) -> None:
    org.metadata.apply(sales_bundle(), author="tests")
    org.metadata.plan(with_script(WORKS))
    org.metadata.apply(with_script(WORKS), author="tests")
    assert [s.key for s in org.metadata.bundle().scripts] == ["deal.set_discount"]


def test_the_api_shows_each_problem_with_the_line_under_a_caret(api_org: Callable[..., ApiOrg]) -> None:
    admin = api_org(sales_bundle()).user("admin")
    response = admin.client.post("/api/v1/metadata/plan", json=with_script(BROKEN))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "metadata.invalid" and body["detail"] == "metadata bundle is invalid (2 problems)"
    assert [(e["pointer"], e["code"], e["message"]) for e in body["errors"]] == EXPECTED
    assert [e["hint"] for e in body["errors"]] == ["    _rate = 0.1\n    ^", "    import os\n           ^"]


def test_an_org_whose_stored_script_a_stricter_policy_refuses_keeps_working(org: Any, app: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts are checked when metadata is saved, not again when a stored revision is read:
    were a later sandbox to refuse a stored script, the org would still read, write and plan,
    and its admin could change the script."""
    org.metadata.apply(with_script(WORKS), author="t")
    stricter = [Problem("/scripts/0/code", "sandbox.compile_error", "refused by a stricter policy")]
    monkeypatch.setattr("rapport.runtime.loading.script_problems", lambda bundle: stricter if bundle.scripts else [])
    runtime = app.org(org.name)
    app.cache.forget(runtime.location.org_id)  # as a new process would: the revision is read and compiled again
    assert [s.name for s in runtime.metadata.bundle().scripts] == ["set_discount"]
    account = runtime.records().create("account", {"name": "Acme"})
    assert runtime.records().get("account", account["id"])["name"] == "Acme"
    with pytest.raises(ValidationFailed):  # a bundle being saved is checked, as always
        runtime.metadata.plan(with_script(WORKS))
    fixed = edited(sales_bundle())
    assert runtime.metadata.apply(fixed, author="t").revision is not None  # the admin removes the script
