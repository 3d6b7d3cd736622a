"""Scripts end to end: triggers in the record pipeline, actions and endpoints through the API,
the governor's limits, permissions and orgs, and the runs log — on SQLite and PostgreSQL.

Each test applies its own scripts to a fresh org; the scripts run in real sandbox workers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rapport.platform.actor import Actor
from rapport.platform.errors import ValidationFailed
from rapport.platform.settings import Settings
from rapport.platform.sqltypes import utcnow
from rapport.runtime.query import QuerySpec
from rapport.sandbox.errors import LimitReached, ScriptFailed
from rapport.sandbox.runner import ScriptRunner
from rapport.sandbox.runs import Run
from tests.support.api import PASSWORD, ApiOrg, pointers, problem, served_org
from tests.support.bundles import make_object
from tests.support.pages import browser_for

ACCOUNT = make_object("account", {"name": "name", "label": "Name", "type": "text", "required": True})
DEAL = make_object(
    "deal",
    {"name": "name", "label": "Name", "type": "text", "required": True},
    {"name": "amount", "label": "Amount", "type": "currency"},
    {"name": "stage", "label": "Stage", "type": "text"},
    {"name": "note", "label": "Note", "type": "text"},
    {"name": "touches", "label": "Touches", "type": "integer"},
    {"name": "account", "label": "Account", "type": "lookup", "target": "account"})
TASK = make_object(
    "task",
    {"name": "name", "label": "Name", "type": "text", "required": True},
    {"name": "deal", "label": "Deal", "type": "lookup", "target": "deal"})
SECRET = make_object("secret", {"name": "name", "label": "Name", "type": "text"})
#: a profile that may work with deals, accounts and tasks, but not read secrets
PROFILES = [{"name": "rep", "objects": [
    {"object": o, "read": True, "create": True, "edit": True, "delete": True} for o in ("deal", "account", "task")]}]
#: the limits of every test here, low enough to reach quickly
LIMITS = {"sandbox_limit_cpu_time": 600, "sandbox_limit_queries": 20, "sandbox_limit_rows": 30,
          "sandbox_limit_dml_rows": 10, "sandbox_limit_output": 2_000}


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=database_url).with_(**LIMITS)


def bundle(*scripts: dict[str, Any]) -> dict[str, Any]:
    return {"objects": [ACCOUNT, DEAL, TASK, SECRET], "profiles": PROFILES, "scripts": list(scripts)}


def script(name: str, kind: str, code: str, object: str | None = "deal", **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "code": code, **({"object": object} if object else {}), **more}


def _all(acme: ApiOrg, object_name: str) -> list[dict[str, Any]]:
    return acme.runtime.query(QuerySpec(object_name, limit=200)).records


# -- triggers ---------------------------------------------------------------------------------

def test_a_before_save_trigger_changes_the_record(api_org: Any) -> None:
    acme = api_org(bundle(script("classify", "before_save", """
size = 'big' if (record['amount'] or 0) > 1000 else 'small'
record['note'] = size if old is None else f"{size}, was {old['note']}"
""")))
    admin = acme.user("admin")
    created = admin.client.post("/api/v1/records/deal", json={"name": "Acme", "amount": 5000})
    assert created.status_code == 201, created.text
    assert created.json()["note"] == "big"
    updated = admin.client.patch(f"/api/v1/records/deal/{created.json()['id']}", json={"amount": 10})
    assert updated.json()["note"] == "small, was big"


def test_a_trigger_sets_typed_values_and_a_value_a_field_refuses_is_a_validation_error(api_org: Any) -> None:
    acme = api_org(bundle(script("typed", "before_save", """
from decimal import Decimal
if record['name'] == 'bad':
    record['touches'] = 'many'
else:
    record['amount'] = Decimal('12.50') * 2
    record['touches'] = 3
""")))
    admin = acme.user("admin")
    created = admin.client.post("/api/v1/records/deal", json={"name": "ok"})
    assert (created.json()["amount"], created.json()["touches"]) == (25, 3)
    refused = problem(admin.client.post("/api/v1/records/deal", json={"name": "bad"}), 422,
                      "records.validation_failed")
    assert pointers(refused) == [("/touches", "records.wrong_type")]
    assert "(set by script 'deal.typed')" in refused["errors"][0]["message"]


def test_add_error_blocks_the_save_with_a_field_error(api_org: Any) -> None:
    acme = api_org(bundle(script("guard", "before_save", """
if (record['amount'] or 0) < 0:
    add_error('amount', 'must not be negative')
if not record['stage']:
    add_error(None, 'every deal needs a stage')
""")))
    admin = acme.user("admin")
    body = problem(admin.client.post("/api/v1/records/deal", json={"name": "x", "amount": -5}), 422,
                   "records.validation_failed")
    assert pointers(body) == [("/amount", "sandbox.field_error"), ("", "sandbox.field_error")]
    assert body["errors"][0]["message"] == "must not be negative (script 'deal.guard')"
    assert _all(acme, "deal") == []
    batch = admin.client.post("/api/v1/composite", json={"operations": [
        {"op": "create", "object": "deal", "record": {"name": "a", "stage": "new"}},
        {"op": "create", "object": "deal", "record": {"name": "b", "stage": "new", "amount": -1}}]})
    assert batch.status_code == 400 and _all(acme, "deal") == []


def test_an_after_save_trigger_creates_a_related_record(api_org: Any) -> None:
    acme = api_org(bundle(script("follow_up", "after_save", """
if old is None:
    task = create('task', {'name': 'Call about ' + record['name'], 'deal': record['id']})
    log('created task', task['id'])
""")))
    admin = acme.user("admin")
    deal = admin.client.post("/api/v1/records/deal", json={"name": "Globex"}).json()
    tasks = _all(acme, "task")
    assert [(t["name"], t["deal"]) for t in tasks] == [("Call about Globex", deal["id"])]
    assert tasks[0]["created_by"] == admin.id  # written as the user who saved the deal


def test_a_before_delete_trigger_can_block_a_delete(api_org: Any) -> None:
    acme = api_org(bundle(
        script("keep_won", "before_delete", "if record['stage'] == 'won':\n    add_error('stage', 'won deals stay')"),
        script("no_vip", "before_delete", "if record['name'] == 'VIP':\n    raise ScriptError('VIP deals stay')"),
        script("audit", "after_delete", "create('task', {'name': 'deleted ' + record['name']})")))
    admin = acme.user("admin")
    won = admin.client.post("/api/v1/records/deal", json={"name": "W", "stage": "won"}).json()
    vip = admin.client.post("/api/v1/records/deal", json={"name": "VIP"}).json()
    lost = admin.client.post("/api/v1/records/deal", json={"name": "L", "stage": "lost"}).json()
    body = problem(admin.client.delete(f"/api/v1/records/deal/{won['id']}"), 422, "records.validation_failed")
    assert pointers(body) == [("/stage", "sandbox.field_error")]
    assert body["detail"] == "script 'deal.keep_won' refused to delete the deal record (1 problem)"
    body = problem(admin.client.delete(f"/api/v1/records/deal/{vip['id']}"), 422, "sandbox.script_error")
    assert (body["script"], body["line"]) == ("deal.no_vip", 2)
    assert body["detail"] == "script 'deal.no_vip', line 2: VIP deals stay"
    assert admin.client.delete(f"/api/v1/records/deal/{lost['id']}").status_code == 204
    assert sorted(d["name"] for d in _all(acme, "deal")) == ["VIP", "W"]
    assert [t["name"] for t in _all(acme, "task")] == ["deleted L"]


def test_triggers_run_in_bundle_order(api_org: Any) -> None:
    acme = api_org(bundle(
        script("second", "before_save", "record['note'] = (record['note'] or '') + 'b'"),
        script("first", "before_save", "record['note'] = (record['note'] or '') + 'a'"),
        script("third", "before_save", "record['note'] = record['note'] + 'c'")))
    admin = acme.user("admin")
    assert admin.client.post("/api/v1/records/deal", json={"name": "x"}).json()["note"] == "bac"


def test_a_bulk_create_runs_the_trigger_for_each_record_in_one_run(api_org: Any) -> None:
    acme = api_org(bundle(script("number", "before_save", "record['touches'] = len(record['name'])")))
    rows = [{"name": "x" * (1 + i % 7)} for i in range(1000)]
    created = acme.runtime.records().create_many("deal", rows)
    assert [r["touches"] for r in created] == [1 + i % 7 for i in range(1000)]
    runs, _ = acme.rapport.sandbox.runs.page(acme.rapport.orgs.get(acme.name).id)
    assert [(r["script"], r["records"], r["outcome"]) for r in runs] == [("deal.number", 1000, "ok")]


def test_inactive_scripts_do_not_run(api_org: Any) -> None:
    acme = api_org(bundle(script("off", "before_save", "record['note'] = 'ran'", active=False)))
    assert acme.runtime.records().create("deal", {"name": "x"})["note"] is None


# -- errors -----------------------------------------------------------------------------------

def test_a_script_error_is_a_422_problem_with_the_script_and_line_and_nothing_is_written(api_org: Any) -> None:
    acme = api_org(bundle(script("boom", "after_save", """
create('task', {'name': 'half'})
total = 0
ratio = record['touches'] / total
""")))
    admin = acme.user("admin")
    body = problem(admin.client.post("/api/v1/records/deal", json={"name": "x", "touches": 3}), 422,
                   "sandbox.script_error")
    assert (body["script"], body["line"], body["error_type"]) == ("deal.boom", 4, "ZeroDivisionError")
    assert body["detail"] == "script 'deal.boom', line 4: ZeroDivisionError: division by zero"
    assert _all(acme, "deal") == [] and _all(acme, "task") == []  # the transaction rolled back


def test_a_refused_write_the_script_catches_leaves_nothing_behind(api_org: Any) -> None:
    acme = api_org(bundle(script("careful", "after_save", """
try:
    create('task', {'deal': record['id']})
except ScriptError as error:
    log('refused:', error.code)
    update('deal', record['id'], {'note': error.code}) if record['note'] is None else None
""")))
    deal = acme.runtime.records().create("deal", {"name": "x"})
    assert _all(acme, "task") == []
    assert acme.runtime.records().get("deal", deal["id"])["note"] == "records.validation_failed"


def test_errors_at_the_service_name_the_script(api_org: Any) -> None:
    acme = api_org(bundle(script("oops", "before_save", "x = record['missing']")))
    with pytest.raises(ScriptFailed) as caught:
        acme.runtime.records().create("deal", {"name": "x"})
    assert caught.value.code == "sandbox.script_error"
    assert str(caught.value) == "script 'deal.oops', line 1: KeyError: 'missing'"


# -- governor limits --------------------------------------------------------------------------

LIMIT_SCRIPTS = {
    "sandbox.limit.queries": "for i in range(25):\n    query('account', limit=1)",
    "sandbox.limit.rows": "query('account')",
    "sandbox.limit.dml_rows": "for i in range(11):\n    create('task', {'name': str(i)})",
    "sandbox.limit.output": "for i in range(100):\n    log('x' * 50)",
    "sandbox.limit.depth": "update('deal', record['id'], {'touches': (record['touches'] or 0) + 1})",
    "sandbox.limit.cpu_time": "n = 0\nwhile True:\n    n += 1",
    "sandbox.limit.memory": "hog = 'x' * (400 * 1024 * 1024)",
}


@pytest.mark.parametrize("code", sorted(LIMIT_SCRIPTS))
def test_each_governor_limit_stops_the_script_with_its_code(api_org: Any, code: str) -> None:
    kind = "after_save" if code == "sandbox.limit.depth" else "before_save"
    acme = api_org(bundle(script("greedy", kind, LIMIT_SCRIPTS[code])))
    acme.runtime.records().create_many("account", [{"name": f"a{i}"} for i in range(40)])
    admin = acme.user("admin")
    body = problem(admin.client.post("/api/v1/records/deal", json={"name": "x"}), 422, code)
    assert (body["script"], body["setting"]) == ("deal.greedy", code)
    setting = "RAPPORT_" + code.replace(".", "_").upper()
    assert body["detail"].startswith(f"script 'deal.greedy': scripts reached the limit {code} of {body['limit']:,} ")
    assert body["detail"].endswith(f"(an operator can raise it with the setting {setting})")
    assert _all(acme, "deal") == [] and _all(acme, "task") == []
    runs, _ = acme.rapport.sandbox.runs.page(acme.rapport.orgs.get(acme.name).id, script="deal.greedy")
    assert (runs[0]["outcome"], runs[0]["error_code"]) == ("limit", code)
    # the pool is healthy: the next save with a well-behaved script answers at once
    acme.runtime.metadata.apply(bundle(script("fine", "before_save", "record['note'] = 'ok'")), author="t")
    assert admin.client.post("/api/v1/records/deal", json={"name": "y"}).json()["note"] == "ok"


RUNAWAY = {
    "an enormous integer": ("x = 10 ** 10 ** 8", "sandbox.limit.cpu_time"),
    "an enormous string": ("x = 'ab' * 10 ** 10", "sandbox.limit.memory"),
    "a growing list": ("x = []\nwhile True:\n    x.append('y' * 1000)", "sandbox.limit.cpu_time"),
    "deep recursion": ("def down(n):\n    return down(n + 1)\ndown(0)", "sandbox.script_error"),
}


def test_runaway_code_is_stopped_within_its_limit_and_the_pool_keeps_serving(api_org: Any) -> None:
    acme = api_org(bundle())
    for what, (code, error) in RUNAWAY.items():
        acme.runtime.metadata.apply(bundle(script("runaway", "before_save", code)), author="t")
        started = time.monotonic()
        with pytest.raises((LimitReached, ScriptFailed)) as caught:
            acme.runtime.records().create("deal", {"name": what})
        assert caught.value.code == error, (what, str(caught.value))
        assert time.monotonic() - started < 5, what  # the CPU limit here is 600 ms
    acme.runtime.metadata.apply(bundle(script("fine", "before_save", "record['note'] = 'ok'")), author="t")
    assert acme.runtime.records().create("deal", {"name": "x"})["note"] == "ok"
    assert _all(acme, "deal") == [{**_all(acme, "deal")[0], "name": "x"}]


def test_a_limit_caught_by_the_script_still_ends_it(api_org: Any) -> None:
    acme = api_org(bundle(script("sly", "before_save", """
for i in range(30):
    try:
        query('account', limit=1)
    except Exception:
        pass
record['note'] = 'got away'
""")))
    with pytest.raises(LimitReached) as caught:
        acme.runtime.records().create("deal", {"name": "x"})
    assert caught.value.code == "sandbox.limit.queries"
    assert caught.value.message.startswith("script 'deal.sly': scripts reached the limit sandbox.limit.queries "
                                           "of 20 queries per transaction")


def test_the_wall_time_limit(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> None:
    loop = script("slow", "before_save", "while True:\n    get('account', 'none')")
    with served_org(request, backend, tmp_path / "wall", bundle(loop), sandbox_limit_wall_time=150,
                    sandbox_limit_queries=1_000_000, sandbox_limit_cpu_time=60_000) as acme:
        with pytest.raises(LimitReached) as caught:
            acme.runtime.records().create("deal", {"name": "x"})
        assert caught.value.code in ("sandbox.limit.wall_time",)


# -- permissions and orgs ---------------------------------------------------------------------

def test_data_calls_have_the_triggering_users_permissions(api_org: Any) -> None:
    peek = "record['note'] = str(len(query('secret')))"
    catch = "try:\n    query('secret')\nexcept ScriptError as error:\n    record['note'] = error.code"
    acme = api_org(bundle(script("peek", "before_save", peek)))
    acme.runtime.records().create_many("secret", [{"name": "s1"}, {"name": "s2"}])
    admin, rep = acme.user("admin"), acme.user("rep")
    assert admin.client.post("/api/v1/records/deal", json={"name": "a"}).json()["note"] == "2"
    body = problem(rep.client.post("/api/v1/records/deal", json={"name": "r"}), 422, "sandbox.script_error")
    assert body["line"] == 1
    assert body["detail"] == ("script 'deal.peek', line 1: query(): you may not read records of object 'secret': "
                              "your profile and permission sets do not grant 'read' on it")
    acme.runtime.metadata.apply(bundle(script("peek", "before_save", catch)), author="t")
    assert rep.client.post("/api/v1/records/deal", json={"name": "r"}).json()["note"] == "permissions.object_access"
    # a script that says run_as system reads what the user may not (an admin applied it)
    acme.runtime.metadata.apply(bundle(script("peek", "before_save", peek, run_as="system")), author="t")
    assert rep.client.post("/api/v1/records/deal", json={"name": "r"}).json()["note"] == "2"


def test_a_script_of_one_org_never_reads_another_orgs_data(api_org: Any) -> None:
    endpoint = script("names", "endpoint", "respond(sorted(d['name'] for d in query('deal')))", object=None)
    acme, globex = api_org(bundle(endpoint)), api_org(bundle(endpoint))
    acme.runtime.records().create("deal", {"name": "acme deal"})
    globex.runtime.records().create_many("deal", [{"name": "globex secret"}, {"name": "globex other"}])
    assert acme.user("admin").client.get("/api/v1/custom/names").json() == ["acme deal"]
    assert globex.user("admin").client.get("/api/v1/custom/names").json() == ["globex other", "globex secret"]
    # the host serves a run's calls in the run's own org: there is no argument naming another
    other = script("other", "endpoint", "respond(query('deal', filter={'field': 'name', 'op': 'eq', "
                   "'value': 'globex secret'}))", object=None)
    acme.runtime.metadata.apply(bundle(endpoint, other), author="t")
    assert acme.user("admin").client.get("/api/v1/custom/other").json() == []


# -- actions and endpoints --------------------------------------------------------------------

def test_an_action_runs_on_a_record_through_the_api(api_org: Any) -> None:
    acme = api_org(bundle(script("win", "action", """
if record['stage'] == 'won':
    add_error('stage', 'already won')
else:
    saved = update('deal', record['id'], {'stage': 'won', 'note': request['body']['reason']})
    respond({'stage': saved['stage'], 'by': user['name']}, status=200)
""")))
    admin, rep = acme.user("admin"), acme.user("rep")
    deal = rep.client.post("/api/v1/records/deal", json={"name": "x"}).json()
    answer = rep.client.post(f"/api/v1/records/deal/{deal['id']}/actions/win", json={"reason": "signed"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stage": "won", "by": "Rep"}
    assert acme.runtime.records().get("deal", deal["id"])["note"] == "signed"
    body = problem(admin.client.post(f"/api/v1/records/deal/{deal['id']}/actions/win", json={}), 422,
                   "sandbox.refused")
    assert pointers(body) == [("/stage", "sandbox.field_error")]
    problem(admin.client.post(f"/api/v1/records/deal/{deal['id']}/actions/lose", json={}), 404,
            "sandbox.script_not_found")
    problem(admin.client.post("/api/v1/records/deal/nope/actions/win", json={}), 404, "records.not_found")


def test_endpoints_answer_get_and_post_with_the_callers_permissions(api_org: Any) -> None:
    acme = api_org(bundle(
        script("stats", "endpoint", """
rows = query('deal', filter={'field': 'stage', 'op': 'eq', 'value': request['query'].get('stage', 'open')})
respond({'count': len(rows), 'method': request['method']})
""", object=None),
        script("echo", "endpoint", "respond(request['body'], status=201)", object=None),
        script("quiet", "endpoint", "log('nothing to say')", object=None),
        script("secrets", "endpoint", "respond(len(query('secret')))", object=None)))
    acme.runtime.records().create("secret", {"name": "s"})
    acme.runtime.records().create("deal", {"name": "not the rep's", "stage": "won"})  # deals are private
    admin, rep = acme.user("admin"), acme.user("rep")
    for name, stage in (("a", "won"), ("b", "open")):
        rep.client.post("/api/v1/records/deal", json={"name": name, "stage": stage})
    assert rep.client.get("/api/v1/custom/stats?stage=won").json() == {"count": 1, "method": "GET"}
    echoed = rep.client.post("/api/v1/custom/echo", content=b'{"a": [1, 2.5, "x", 0.1000000000000000000001]}',
                             headers={"Content-Type": "application/json"})
    # numbers travel exactly: as JSON numbers where a float holds them, else as text
    assert (echoed.status_code, echoed.json()) == (201, {"a": [1, 2.5, "x", "0.1000000000000000000001"]})
    assert rep.client.post("/api/v1/custom/quiet").status_code == 204
    assert admin.client.get("/api/v1/custom/secrets").json() == 1
    problem(rep.client.get("/api/v1/custom/secrets"), 422, "sandbox.script_error")
    problem(rep.client.get("/api/v1/custom/nothing"), 404, "sandbox.script_not_found")
    problem(acme.client().get("/api/v1/custom/stats"), 401, "auth.required")


def test_the_host_answers_only_a_2xx_status_whatever_a_worker_says(api_org: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    acme = api_org(bundle(script("echo", "endpoint", "respond({'ok': True}, status=201)", object=None)))
    admin = acme.user("admin")
    real_run = ScriptRunner.run

    def lying_worker(self: ScriptRunner, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real_run(self, *args, **kwargs), "status": 302}  # what a worker taken over could say

    monkeypatch.setattr(ScriptRunner, "run", lying_worker)
    answer = admin.client.get("/api/v1/custom/echo", follow_redirects=False)
    assert (answer.status_code, answer.json()) == (200, {"ok": True})


def test_an_endpoint_called_with_get_may_only_read(api_org: Any) -> None:
    """A session cookie goes along with a cross-site GET (a link) and no CSRF token is asked
    for one, so a GET must not change data: its writes are refused; POST may write."""
    acme = api_org(bundle(script("touch", "endpoint", """
try:
    create('task', {'name': 'from ' + request['method']})
    respond('written')
except ScriptError as error:
    respond(error.code + ': ' + error.message)
""", object=None), script("sneak", "endpoint", "create('task', {'name': 'sneaky'})", object=None,
                          run_as="system")))
    admin = acme.user("admin")
    assert admin.client.get("/api/v1/custom/touch").json() == (
        "sandbox.read_only_request: create(): a GET request may only read data; call the endpoint with POST "
        "to change data")
    body = problem(admin.client.get("/api/v1/custom/sneak"), 422, "sandbox.script_error")
    assert body["line"] == 1
    assert _all(acme, "task") == []
    assert admin.client.post("/api/v1/custom/touch").json() == "written"
    assert [t["name"] for t in _all(acme, "task")] == ["from POST"]


def test_actions_and_endpoints_are_in_the_openapi_document(api_org: Any) -> None:
    acme = api_org(bundle())
    paths = acme.user("admin").client.get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths["/records/{object}/{id}/actions/{name}"]
    assert {"get", "post"} <= set(paths["/custom/{name}"])
    assert paths["/scripts/runs"]["get"]["tags"] == ["scripts"]


# -- the runs log -----------------------------------------------------------------------------

def test_the_runs_log_lists_runs_with_their_outcome_and_limits_used(api_org: Any) -> None:
    acme = api_org(bundle(
        script("reader", "before_save", "accounts = query('account')\nlog('read', len(accounts))\n"
                                        "if record['name'] == 'bad':\n    raise ScriptError('no bad deals')"),
        script("writer", "after_save", "create('task', {'name': 't', 'deal': record['id']})")))
    acme.runtime.records().create_many("account", [{"name": "a"}, {"name": "b"}])
    admin = acme.user("admin")
    admin.client.post("/api/v1/records/deal", json={"name": "good"})
    admin.client.post("/api/v1/records/deal", json={"name": "bad"})
    answer = admin.client.get("/api/v1/scripts/runs")
    assert answer.status_code == 200, answer.text
    runs = answer.json()["runs"]
    summary = [(r["script"], r["outcome"], r["queries"], r["rows"], r["dml_rows"], r["log"], r["line"])
               for r in runs]
    assert summary == [
        ("deal.reader", "error", 1, 2, 0, "read 2", 4),
        ("deal.writer", "ok", 0, 0, 1, None, None),
        ("deal.reader", "ok", 1, 2, 0, "read 2", None),
    ]
    assert runs[0]["error"] == "script 'deal.reader', line 4: no bad deals"
    assert runs[0]["error_code"] == "sandbox.script_error"
    assert all(r["actor"] == "Admin" and r["duration_ms"] >= 0 for r in runs)
    page = admin.client.get("/api/v1/scripts/runs?outcome=ok&limit=1").json()
    assert [r["script"] for r in page["runs"]] == ["deal.writer"] and page["next_cursor"]
    rest = admin.client.get(f"/api/v1/scripts/runs?outcome=ok&cursor={page['next_cursor']}").json()
    assert [r["script"] for r in rest["runs"]] == ["deal.reader"] and rest["next_cursor"] is None
    problem(acme.user("rep").client.get("/api/v1/scripts/runs"), 403, "permissions.system_permission")


def test_setup_shows_the_scripts_and_their_runs_to_admins_only(api_org: Any) -> None:
    acme = api_org(bundle(
        script("checker", "before_save", "log('checking <b>', record['name'])\n"
                                         "if record['name'] == 'bad':\n    raise ScriptError('no bad deals')")))
    admin = acme.user("admin")
    for name in ("good", "bad"):
        admin.client.post("/api/v1/records/deal", json={"name": name})
    browser = browser_for(acme, acme.user("admin", password=PASSWORD))
    html = browser.get("/admin/scripts").text
    assert "deal.checker" in html and "before_save" in html
    assert "sandbox.script_error, line 3: script &#39;deal.checker&#39;, line 3: no bad deals" in html
    assert "checking &lt;b&gt; bad" in html and "<b>" not in html  # the log, escaped
    failed = browser.get("/admin/scripts", params={"outcome": "error"}).text
    assert "checking &lt;b&gt; good" not in failed and "checking &lt;b&gt; bad" in failed
    refused = browser.get("/admin/scripts", params={"outcome": "maybe"})
    assert refused.status_code == 400 and "Outcome must be one of ok, error, limit" in refused.text
    assert 'href="/admin/scripts"' in browser.get("/admin").text
    rep = browser_for(acme, acme.user("rep", password=PASSWORD))
    assert rep.get("/admin/scripts").status_code == 403


def test_reading_the_runs_log_does_not_wait_for_runs_logged_meanwhile(api_org: Any) -> None:
    """A read flushes what was queued before it, then answers: while other requests keep
    logging runs, it must not wait for the queue to run empty (under load it never does)."""
    acme = api_org(bundle())
    org_id = acme.rapport.orgs.get(acme.name).id
    log = acme.rapport.sandbox.runs
    run = Run(org_id=org_id, script="deal.busy", kind="before_save", object="deal", records=1, actor="Admin",
              started_at=utcnow(), duration_ms=1, cpu_ms=1, queries=0, rows=0, dml_rows=0, output_bytes=0,
              depth=0, outcome="ok")
    log.record(run)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            log.record(run)
            time.sleep(0.0005)

    writers = [threading.Thread(target=busy) for _ in range(4)]
    for writer in writers:
        writer.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        runs, _ = log.page(org_id, limit=1)
        assert time.monotonic() - started < 2.0
        assert [r["script"] for r in runs] == ["deal.busy"]
    finally:
        stop.set()
        for writer in writers:
            writer.join()
        log.flush()


def test_a_system_actor_runs_triggers_too(api_org: Any) -> None:
    acme = api_org(bundle(script("who", "before_save", "record['note'] = user['name'] + '/' + str(user['profile'])")))
    system = acme.runtime.records().create("deal", {"name": "x"})
    assert system["note"] == "System/None"
    someone = Actor("u1", "Una", "rep")
    assert acme.runtime.records(someone).create("deal", {"name": "y"})["note"] == "Una/rep"
    with pytest.raises(ValidationFailed):
        acme.runtime.records(someone).create("deal", {"name": ""})
