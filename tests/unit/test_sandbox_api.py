"""The worker-side script API, without a worker: the names a run gets, what it collects,
the data calls it sends, and its limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from rapport.sandbox.api import HostError, LimitExceeded, ScriptApi, ScriptError, to_json
from rapport.sandbox.language import compile_script, script_globals


class FakeHost:
    def __init__(self, answers: dict[str, Any] | None = None, refuse: HostError | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers = answers or {}
        self.refuse = refuse

    def __call__(self, fn: str, args: dict[str, Any]) -> Any:
        self.calls.append((fn, args))
        if self.refuse is not None:
            raise self.refuse
        return self.answers.get(fn)


def run(kind: str, inputs: dict[str, Any], source: str, host: Any = None, **limits: Any) -> ScriptApi:
    api = ScriptApi(kind, inputs, host or FakeHost(), limits)
    code = compile_script(source, "<script test>")
    for names in api.executions():
        exec(code, script_globals(names))
    return api


def test_a_before_save_batch_runs_once_per_record_and_returns_only_the_changes() -> None:
    records = [{"id": "1", "name": "a", "amount": 5}, {"id": "2", "name": "b", "amount": 50}]
    api = run("before_save", {"records": records, "olds": [None, {"id": "2", "amount": 1}]}, """
from datetime import date
if record['amount'] > 10:
    record['note'] = 'was ' + str(old['amount'])
    record['close'] = date(2030, 1, 2)
else:
    add_error('amount', 'too small')
""")
    assert api.result() == {"records": [
        {"index": 0, "errors": [{"field": "amount", "message": "too small"}]},
        {"index": 1, "changes": {"note": "was 1", "close": "2030-01-02"}}]}
    assert records[1] == {"id": "2", "name": "b", "amount": 50}  # the inputs are not touched


def test_record_is_read_only_outside_before_save() -> None:
    with pytest.raises(ScriptError) as caught:
        run("after_save", {"records": [{"id": "1", "x": 1}], "olds": [None]}, "record['x'] = 2")
    assert str(caught.value) == ("record is read-only in after-save triggers: change records with "
                                 "update(object, id, values)")


def test_data_calls_go_to_the_host_as_json() -> None:
    host = FakeHost({"query": [{"id": "a"}], "create": {"id": "n"}})
    api = run("endpoint", {"request": {"method": "GET", "query": {}, "body": None}}, """
from decimal import Decimal
rows = query('deal', {'field': 'amount', 'op': 'gt', 'value': Decimal('1.10')}, fields=['name'], limit=5)
made = create('task', {'name': 'x', 'when': now(), 'tags': ('a', 'b')})
respond({'rows': rows, 'made': made['id']}, status=201)
""", host)
    assert host.calls[0] == ("query", {"object": "deal", "filter": {"field": "amount", "op": "gt", "value": "1.10"},
                                       "fields": ["name"], "sort": None, "limit": 5})
    fn, args = host.calls[1]
    assert fn == "create" and args["values"]["tags"] == ["a", "b"]
    assert datetime.fromisoformat(args["values"]["when"]).tzinfo is UTC
    assert api.result()["response"] == {"rows": [{"id": "a"}], "made": "n"}
    assert api.result()["status"] == 201


def test_a_refused_call_is_a_script_error_the_script_may_catch() -> None:
    host = FakeHost(refuse=HostError("permissions.object_access", "you may not read records of object 'secret'"))
    api = run("endpoint", {"request": {}}, """
try:
    query('secret')
except ScriptError as error:
    respond({'code': error.code, 'message': error.message})
""", host)
    assert api.result()["response"] == {"code": "permissions.object_access",
                                        "message": "you may not read records of object 'secret'"}


def test_a_limit_from_the_host_is_final_even_when_caught() -> None:
    host = FakeHost(refuse=HostError("sandbox.limit.queries", "too many"))
    api = run("endpoint", {"request": {}}, """
for i in range(3):
    try:
        query('deal')
    except Exception:
        pass
""", host)
    assert isinstance(api.limit_error, LimitExceeded) and api.limit_error.code == "sandbox.limit.queries"
    assert len(host.calls) == 1  # after the limit, calls raise at once without asking the host


def test_log_and_print_count_against_the_output_limit() -> None:
    api = run("endpoint", {"request": {}}, "log('a', 1, None)\nprint('b')", output_bytes=100)
    assert api.logs == ["a 1 None", "b"] and api.output_bytes == 11
    with pytest.raises(LimitExceeded) as caught:
        run("endpoint", {"request": {}}, "for i in range(100):\n    log('x' * 10)", output_bytes=100)
    assert caught.value.code == "sandbox.limit.output"


def test_respond_checks_its_status() -> None:
    with pytest.raises(ScriptError) as caught:
        run("action", {"record": {}, "request": {}}, "respond({}, status=500)")
    assert "status must be a whole number from 200 to 299" in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("1.50"), "1.50"), (date(2030, 1, 2), "2030-01-02"), ({"a": (1, 2)}, {"a": [1, 2]}),
    (frozenset({3}), [3]), (None, None), (True, True),
])
def test_to_json(value: Any, expected: Any) -> None:
    assert to_json(value, "x") == expected


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "x: nan is not a number JSON can hold"),
    ({1: 2}, "x: keys must be text, got int 1"),
    (object(), "x: a object cannot be sent; use text, numbers, True/False/None, dates, lists and dicts"),
])
def test_to_json_refuses(value: Any, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        to_json(value, "x")
    assert str(caught.value) == message
