"""The record service on SQLite and PostgreSQL: the only write path and its guarantees."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from rapport.platform.actor import Actor
from rapport.platform.errors import Conflict, InvalidRequest, NotFound, StaleVersion, ValidationFailed
from rapport.platform.tables import history
from tests.support.bundles import make_object, minimal, sales_bundle

ANN = Actor("u-ann", "Ann")


@pytest.fixture
def sales(org: Any) -> Any:
    org.metadata.apply(sales_bundle(), author="test")
    return org


def count(org: Any, object_name: str) -> int:
    with org.reading() as tx:
        table = tx.model.object(object_name).table
        return tx.conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def codes(error: Any) -> list[tuple[str, str]]:
    return [(p.pointer, p.code) for p in error.problems]


def test_create_fills_system_fields_defaults_and_autonumbers(sales: Any) -> None:
    records = sales.records(ANN)
    account = records.create("account", {"name": "Acme", "industry": "retail", "annual_revenue": "1200.50"})
    assert account["owner"] == "u-ann" and account["created_by"] == "u-ann"
    assert account["version"] == 1
    assert account["annual_revenue"] == 1200.5
    assert account["account_number"] == "ACC-00001"
    assert len(account["id"]) == 36
    deal = records.create("deal", {"name": "Big one", "account": account["id"]})
    assert deal["stage"] == "prospecting"  # the picklist's default value
    assert deal["deal_number"] == "D-00001"
    second = records.create("account", {"name": "Globex"})
    assert second["account_number"] == "ACC-00002"
    assert second["id"] > account["id"]  # time-ordered ids
    assert records.get("deal", deal["id"]) == deal


def test_every_error_of_a_record_comes_back_together_and_nothing_is_written(sales: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        sales.records(ANN).create("deal", {
            "name": "x" * 300, "account": "missing", "stage": "Won!", "amount": "abc", "bogus": 1, "version": 3,
            "created_at": "2020-01-01",
        })
    error = caught.value
    assert error.code == "records.validation_failed"
    assert sorted(codes(error)) == sorted([
        ("/name", "records.too_long"), ("/stage", "records.not_in_picklist"), ("/amount", "records.wrong_type"),
        ("/bogus", "records.unknown_field"), ("/created_at", "records.read_only"),
        ("/account", "records.lookup_not_found"),
    ])
    stage = next(p for p in error.problems if p.pointer == "/stage")
    assert stage.message == ("field 'stage' on object 'deal': 'Won!' is not one of 'prospecting', 'qualification', "
                             "'proposal', 'negotiation', 'closed_won', 'closed_lost'")
    assert count(sales, "deal") == 0


def test_unknown_object_and_record(sales: Any) -> None:
    with pytest.raises(NotFound) as caught:
        sales.records().create("invoice", {})
    assert caught.value.code == "records.unknown_object"
    with pytest.raises(NotFound) as caught:
        sales.records().get("deal", "nope")
    assert caught.value.code == "records.not_found"


def test_update_is_partial_versioned_and_tracked(sales: Any) -> None:
    records = sales.records(ANN)
    account = records.create("account", {"name": "Acme"})
    deal = records.create("deal", {"name": "Big", "account": account["id"], "amount": 100})
    updated = records.update("deal", deal["id"], {"amount": 250, "stage": "proposal"}, expected_version=1)
    assert updated["version"] == 2 and updated["amount"] == 250 and updated["name"] == "Big"
    assert updated["updated_by"] == "u-ann"
    with pytest.raises(StaleVersion) as caught:
        records.update("deal", deal["id"], {"amount": 1}, expected_version=1)
    assert caught.value.status == 412 and caught.value.code == "records.stale_version"
    assert records.get("deal", deal["id"])["amount"] == 250
    with sales.reading() as tx:
        rows = tx.conn.execute(sa.select(history.c.field, history.c.old_value, history.c.new_value)
                               .where(history.c.record_id == deal["id"]).order_by(history.c.field)).all()
    assert [tuple(r) for r in rows] == [("amount", 100, 250), ("stage", "prospecting", "proposal")]
    unchanged = records.update("deal", deal["id"], {"amount": 250})
    assert unchanged["version"] == 2  # nothing changed, nothing written


def test_unique_fields_within_a_batch_and_against_stored_records(sales: Any) -> None:
    records = sales.records()
    records.create("contact", {"last_name": "Lee", "email": "lee@example.com"})
    with pytest.raises(ValidationFailed) as caught:
        records.create_many("contact", [
            {"last_name": "A", "email": "lee@example.com"},
            {"last_name": "B", "email": "new@example.com"},
            {"last_name": "C", "email": "new@example.com"},
        ])
    assert sorted(codes(caught.value)) == [("/0/email", "records.duplicate_value"),
                                           ("/2/email", "records.duplicate_value")]
    assert count(sales, "contact") == 1


def test_bulk_create_is_all_or_nothing_and_batched(sales: Any) -> None:
    rows = [{"name": f"Account {i}", "employees": i} for i in range(1200)]
    rows[537]["employees"] = -5
    with pytest.raises(ValidationFailed) as caught:
        sales.records().create_many("account", rows)
    assert codes(caught.value) == [("/537/employees", "records.out_of_range")]
    assert count(sales, "account") == 0
    rows[537]["employees"] = 5
    created = sales.records().create_many("account", rows)
    assert len(created) == 1200 and count(sales, "account") == 1200
    numbers = [r["account_number"] for r in created]
    assert numbers[0] == "ACC-00001" and numbers[-1] == "ACC-01200"


def test_update_many(sales: Any) -> None:
    records = sales.records()
    made = records.create_many("account", [{"name": "A"}, {"name": "B"}])
    changed = records.update_many("account", [{"id": made[0]["id"], "employees": 3},
                                              {"id": made[1]["id"], "version": 1, "employees": 4}])
    assert [c["employees"] for c in changed] == [3, 4]
    with pytest.raises(InvalidRequest):
        records.update_many("account", [{"employees": 1}])


def test_lookup_on_delete_rules(sales: Any) -> None:
    records = sales.records()
    account = records.create("account", {"name": "Acme"})
    contact = records.create("contact", {"last_name": "Lee", "account": account["id"]})
    deal = records.create("deal", {"name": "Big", "account": account["id"]})
    with pytest.raises(Conflict) as caught:
        records.delete("account", account["id"])
    assert caught.value.code == "records.delete_restricted"
    assert records.get("contact", contact["id"])["account"] == account["id"]
    records.delete("deal", deal["id"], expected_version=1)
    records.delete("account", account["id"])
    after = records.get("contact", contact["id"])
    assert after["account"] is None and after["version"] == 2  # set_null


def test_master_detail_cascades_and_soft_delete_can_be_undone(org: Any) -> None:
    org.metadata.apply(minimal(
        make_object("invoice", {"name": "number", "label": "Number", "type": "text"}, soft_delete=True),
        make_object("line", {"name": "invoice", "label": "Invoice", "type": "master_detail", "target": "invoice"},
                    {"name": "qty", "label": "Qty", "type": "integer"}),
    ), author="test")
    records = org.records()
    invoice = records.create("invoice", {"number": "I-1"})
    with pytest.raises(ValidationFailed) as caught:
        records.create("line", {"qty": 1})
    assert codes(caught.value) == [("/invoice", "records.required")]
    lines = records.create_many("line", [{"invoice": invoice["id"], "qty": n} for n in range(3)])
    records.delete("invoice", invoice["id"])
    with pytest.raises(NotFound):
        records.get("invoice", invoice["id"])
    assert count(org, "line") == 0  # detail records go with their master
    assert records.get("invoice", invoice["id"], include_deleted=True)["is_deleted"] is True
    restored = records.undelete("invoice", invoice["id"])
    assert restored["is_deleted"] is False and restored["version"] == 3
    with pytest.raises(InvalidRequest) as not_soft:
        records.undelete("line", lines[0]["id"])
    assert not_soft.value.code == "records.undelete_unsupported"


def test_a_failed_write_in_a_transaction_leaves_no_trace(sales: Any) -> None:
    with pytest.raises(ValidationFailed):
        with sales.transaction() as tx:
            records = sales.records(tx=tx)
            records.create("account", {"name": "first"})
            records.create("account", {"employees": -1})
    assert count(sales, "account") == 0


def test_orgs_are_isolated(org_factory: Any) -> None:
    first, second = org_factory(), org_factory()
    first.metadata.apply(sales_bundle(), author="test")
    account = first.records().create("account", {"name": "Secret"})
    with pytest.raises(NotFound) as caught:
        second.records().get("account", account["id"])
    assert caught.value.code == "records.unknown_object"
    second.metadata.apply(sales_bundle(), author="test")
    with pytest.raises(NotFound):
        second.records().get("account", account["id"])
    assert second.metadata.revisions()[0].number == 1 and len(second.metadata.revisions()) == 1
    assert count(second, "account") == 0


def test_odd_input_gets_a_coded_error_on_every_database(sales: Any) -> None:
    records = sales.records()
    for bad in (None, [], "x", 5):
        with pytest.raises(ValidationFailed) as caught:
            records.create("account", bad)
        assert codes(caught.value) == [("/", "records.not_an_object")]
    with pytest.raises(ValidationFailed) as caught:
        records.create("account", {"name": "nul\x00byte"})
    assert codes(caught.value) == [("/name", "records.bad_character")]
    with pytest.raises(ValidationFailed) as caught:
        records.create("contact", {"last_name": "x", "account": "bad\x00id"})
    assert codes(caught.value) == [("/account", "records.wrong_type")]
    for bad_id in (5, "", "x" * 37, "a\x00b", None):
        with pytest.raises(NotFound):
            records.get("account", bad_id)
        with pytest.raises(NotFound):
            records.update("account", bad_id, {"name": "x"})
        with pytest.raises(NotFound):
            records.delete("account", bad_id)
    with pytest.raises(InvalidRequest) as caught:
        records.create_many("account", "abc")
    assert caught.value.code == "records.bad_batch"


def test_a_cycle_of_cascading_lookups_is_deleted_once(org: Any) -> None:
    node = make_object("node", {"name": "name", "label": "Name", "type": "text"},
                       {"name": "parent", "label": "Parent", "type": "lookup", "target": "node",
                        "on_delete": "cascade"})
    org.metadata.apply(minimal(node), author="t")
    records = org.records()
    a = records.create("node", {"name": "a"})
    b = records.create("node", {"name": "b", "parent": a["id"]})
    c = records.create("node", {"name": "c", "parent": b["id"]})
    records.update("node", a["id"], {"parent": c["id"]})
    records.create("node", {"name": "other"})
    records.delete("node", a["id"])
    assert count(org, "node") == 1


def test_update_many_is_batched_and_all_or_nothing(sales: Any) -> None:
    records = sales.records()
    made = records.create_many("account", [{"name": f"A{i}"} for i in range(200)])
    statements: list[str] = []
    engine = sales.location.engine

    def count_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count_statement)
    try:
        records.update_many("account", [{"id": r["id"], "employees": i} for i, r in enumerate(made)])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_statement)
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    assert len(statements) <= 6  # revision, load, checks, one UPDATE
    changes = [{"id": r["id"], "employees": 1} for r in made[:3]] + [{"id": made[3]["id"], "employees": -1}]
    with pytest.raises(ValidationFailed) as caught:
        records.update_many("account", changes)
    assert codes(caught.value) == [("/3/employees", "records.out_of_range")]
    assert records.get("account", made[0]["id"])["employees"] == 0


def test_set_null_is_recorded_in_history_and_undelete_needs_the_master(org: Any) -> None:
    org.metadata.apply(minimal(
        make_object("team", {"name": "name", "label": "Name", "type": "text"}, soft_delete=True),
        make_object("member", {"name": "team", "label": "Team", "type": "lookup", "target": "team",
                               "track_history": True}, soft_delete=True),
        make_object("seat", {"name": "team", "label": "Team", "type": "master_detail", "target": "team"},
                    soft_delete=True),
    ), author="t")
    records = org.records()
    team = records.create("team", {"name": "red"})
    member = records.create("member", {"team": team["id"]})
    seat = records.create("seat", {"team": team["id"]})
    records.delete("team", team["id"])
    with pytest.raises(Conflict) as caught:
        records.undelete("seat", seat["id"])
    assert caught.value.code == "records.parent_deleted"
    records.undelete("team", team["id"])
    records.undelete("seat", seat["id"])
    hard = minimal(make_object("team", {"name": "name", "label": "Name", "type": "text"}),
                   make_object("member", {"name": "team", "label": "Team", "type": "lookup", "target": "team",
                                          "track_history": True}, soft_delete=True))
    org.metadata.apply(hard, author="t", confirm_data_loss=True)
    records.delete("team", team["id"])
    assert records.get("member", member["id"])["team"] is None
    with org.reading() as tx:
        rows = tx.conn.execute(sa.select(history.c.old_value, history.c.new_value)
                               .where(history.c.record_id == member["id"])).all()
    assert [tuple(r) for r in rows] == [(team["id"], None)]


def test_a_required_lookup_cannot_be_emptied_by_deleting_its_record(org: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        org.metadata.apply(minimal(make_object("a", {"name": "x", "label": "X", "type": "text"}),
                                   make_object("b", {"name": "a", "label": "A", "type": "lookup", "target": "a",
                                                     "required": True})), author="t")
    assert [(p.pointer, p.code) for p in caught.value.problems] == [("/objects/1/fields/0/on_delete",
                                                                     "metadata.invalid")]


def test_a_master_with_very_many_details_is_deleted_in_bounded_statements(org: Any) -> None:
    org.metadata.apply(minimal(
        make_object("batch", {"name": "name", "label": "Name", "type": "text"}),
        make_object("item", {"name": "batch", "label": "Batch", "type": "master_detail", "target": "batch"}),
    ), author="t")
    records = org.records()
    batch = records.create("batch", {"name": "big"})
    for _ in range(7):
        records.create_many("item", [{"batch": batch["id"]}] * 10_000)
    records.delete("batch", batch["id"])
    assert count(org, "item") == 0
