"""The governor: counting a transaction's script use against the limits, and the errors."""

from __future__ import annotations

import pytest

from rapport.platform.errors import Conflict, Forbidden, ValidationFailed
from rapport.platform.settings import Settings
from rapport.sandbox.errors import LimitReached
from rapport.sandbox.governor import LIMITS, Governor, Limits, governor_of
from rapport.sandbox.host_calls import CallRefused, HostCalls


def test_limits_come_from_the_settings_with_their_documented_defaults() -> None:
    limits = Limits.from_settings(Settings())
    assert limits == Limits(cpu_time_ms=2_000, wall_time_ms=10_000, queries=100, rows=10_000, dml_rows=1_000,
                            memory_bytes=256 * 1024 * 1024, output_bytes=65_536, depth=5)
    env = {"RAPPORT_SANDBOX_LIMIT_QUERIES": "7", "RAPPORT_SANDBOX_LIMIT_DEPTH": "2", "RAPPORT_SANDBOX_WORKERS": "4"}
    settings = Settings.from_env(env)
    assert (Limits.from_settings(settings).queries, Limits.from_settings(settings).depth) == (7, 2)
    assert settings.sandbox_workers == 4


@pytest.mark.parametrize("code", sorted(LIMITS))
def test_every_limit_error_names_the_limit_its_value_and_what_to_do(code: str) -> None:
    error = Limits().error(code, "deal.x")
    assert error.code == code and error.status == 422
    assert error.details == {"script": "deal.x", "limit": Limits().value(code), "setting": code}
    setting = "RAPPORT_" + code.replace(".", "_").upper()
    assert str(error).startswith(f"script 'deal.x': scripts reached the limit {code} of ")
    assert str(error).endswith(f"(an operator can raise it with the setting {setting})")


def test_queries_and_rows_are_counted_and_the_first_limit_is_final() -> None:
    governor = Governor(Limits(queries=2, rows=10))
    governor.count_query(4)
    assert governor.rows_left() == 6
    governor.before_query()
    governor.count_query(6)
    with pytest.raises(LimitReached) as caught:
        governor.before_query()
    assert caught.value.code == "sandbox.limit.queries"
    with pytest.raises(LimitReached) as again:  # whatever comes next in the transaction
        governor.count_dml()
    assert again.value is caught.value


def test_rows_past_the_limit() -> None:
    governor = Governor(Limits(rows=3))
    with pytest.raises(LimitReached) as caught:
        governor.count_query(4)
    assert caught.value.code == "sandbox.limit.rows"


def test_dml_rows_are_refused_before_the_write() -> None:
    governor = Governor(Limits(dml_rows=1))
    governor.before_dml()
    governor.count_dml()
    with pytest.raises(LimitReached) as caught:
        governor.before_dml()
    assert caught.value.code == "sandbox.limit.dml_rows"


def test_depth_counts_nested_runs_and_cpu_counts_only_the_outermost() -> None:
    governor = Governor(Limits(depth=2))
    with governor.run():
        with governor.run():
            with pytest.raises(LimitReached) as caught:
                with governor.run():
                    pass
            governor.finish_run(cpu_ms=50, output_bytes=10, wall_ms=60)
        assert caught.value.code == "sandbox.limit.depth"


def test_budget_is_what_the_transaction_has_left() -> None:
    now = [100.0]
    governor = Governor(Limits(cpu_time_ms=1_000, wall_time_ms=2_000, output_bytes=100), clock=lambda: now[0])
    with governor.run():
        pass
    governor.finish_run(cpu_ms=400, output_bytes=30, wall_ms=500)
    assert governor.budget() == (600, 1.5, 70)
    with governor.run():
        now[0] += 1.0  # a nested run starting a second into its caller
        assert governor.budget() == (600, 0.5, 70)
    governor.finish_run(cpu_ms=700, output_bytes=0, wall_ms=1_000)
    with pytest.raises(LimitReached) as caught:
        governor.budget()
    assert caught.value.code == "sandbox.limit.cpu_time"


def test_output_past_the_limit() -> None:
    governor = Governor(Limits(output_bytes=10))
    with pytest.raises(LimitReached) as caught:
        governor.finish_run(cpu_ms=0, output_bytes=11, wall_ms=0)
    assert caught.value.code == "sandbox.limit.output"


def test_one_governor_per_transaction_state() -> None:
    state: dict[str, object] = {}
    assert governor_of(state, Limits()) is governor_of(state, Limits())
    assert governor_of({}, Limits()) is not governor_of(state, Limits())


class _Refusing:
    """A DataAccess that refuses every call, as the record service refuses a bad write."""

    def query(self, object: str, filter: object, fields: object, sort: object, limit: int) -> list[dict[str, object]]:
        raise Forbidden("you may not read records of object 'secret'", code="permissions.object_access")

    def get(self, object: str, id: str) -> dict[str, object] | None:
        raise Forbidden("you may not read records of object 'secret'", code="permissions.object_access")

    def create(self, object: str, values: dict[str, object]) -> dict[str, object]:
        raise ValidationFailed("the deal record could not be saved", code="records.validation_failed")

    def update(self, object: str, id: str, values: dict[str, object]) -> dict[str, object]:
        raise ValidationFailed("the deal record could not be saved", code="records.validation_failed")

    def delete(self, object: str, id: str) -> None:
        raise Conflict("cannot delete deal 1", code="records.delete_restricted")


@pytest.mark.parametrize(("fn", "args", "code"), [
    ("query", {"object": "secret"}, "sandbox.limit.queries"),
    ("get", {"object": "secret", "id": "1"}, "sandbox.limit.queries"),
    ("create", {"object": "deal", "values": {}}, "sandbox.limit.dml_rows"),
    ("update", {"object": "deal", "id": "1", "values": {}}, "sandbox.limit.dml_rows"),
    ("delete", {"object": "deal", "id": "1"}, "sandbox.limit.dml_rows"),
])
def test_refused_data_calls_count_against_the_limits(fn: str, args: dict[str, object], code: str) -> None:
    """A script that catches each refusal cannot make unlimited attempts: every call that
    reached the record service or query engine is counted, refused or not."""
    calls = HostCalls(_Refusing(), Governor(Limits(queries=3, dml_rows=3)))
    for _ in range(3):
        with pytest.raises(CallRefused):
            calls(fn, args)
    with pytest.raises(LimitReached) as caught:
        calls(fn, args)
    assert caught.value.code == code
