"""Safe schema changes on SQLite and PostgreSQL: plan, apply, refuse, move aside, restore."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from rapport.platform.errors import ConfirmationRequired, ConversionRefused, Conflict, NotFound, ValidationFailed
from tests.support.bundles import drop_field, edited, field, make_object, minimal, obj, sales_bundle


def text(name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "label": name.title(), "type": "text", **options}


@pytest.fixture
def people(org: Any) -> Any:
    bundle = minimal(make_object("person", text("name", required=True), text("code", max_length=20),
                                 {"name": "age", "label": "Age", "type": "integer"},
                                 {"name": "score", "label": "Score", "type": "number", "precision": 10, "scale": 2},
                                 {"name": "color", "label": "Color", "type": "picklist", "values": [
                                     {"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]}))
    org.metadata.apply(bundle, author="test")
    org.records().create_many("person", [
        {"name": "Ann", "code": "A-1", "age": 31, "score": 1.5, "color": "red"},
        {"name": "Bob", "code": "B-22", "age": 40, "score": 2.25, "color": "blue"},
        {"name": "Cy", "code": "red", "age": None, "score": None, "color": None},
    ])
    org.bundle = bundle
    return org


def people_by_name(org: Any) -> dict[str, dict[str, Any]]:
    result = org.query(__import__("rapport.runtime.query", fromlist=["QuerySpec"]).QuerySpec("person"))
    return {r["name"]: r for r in result.records}


def columns(org: Any, table: str) -> dict[str, Any]:
    with org.location.read() as conn:
        return {c["name"]: c for c in sa.inspect(conn).get_columns(table, schema=org.location.schema)}


def indexes(org: Any, table: str) -> dict[str, Any]:
    with org.location.read() as conn:
        return {tuple(i["column_names"]): i for i in sa.inspect(conn).get_indexes(table, schema=org.location.schema)}


def change(org: Any, edit: Any, **apply: Any) -> Any:
    bundle = edited(org.bundle)
    edit(bundle)
    applied = org.metadata.apply(bundle, author="test", **apply)
    org.bundle = bundle
    return applied


def test_first_apply_creates_tables_indexes_and_revision(org: Any) -> None:
    plan = org.metadata.plan(sales_bundle())
    assert [s["safety"] for s in plan.step_dicts()] == ["safe"] * len(plan.steps)
    with pytest.raises(NotFound):
        org.records().create("account", {"name": "x"})  # planning changed nothing
    applied = org.metadata.apply(sales_bundle(), author="ann", message="initial")
    assert applied.revision.number == 1 and applied.revision.author == "ann"
    assert {("account",), ("amount",), ("primary_contact",)} <= set(indexes(org, "deal"))
    assert indexes(org, "deal")[("deal_number",)]["unique"]
    assert indexes(org, "contact")[("email",)]["unique"]
    again = org.metadata.apply(sales_bundle(), author="ann")
    assert again.revision is None and again.plan.is_empty  # nothing changed, no new revision


def test_add_field_backfills_defaults_and_refuses_required_without_default(people: Any) -> None:
    change(people, lambda b: obj(b, "person")["fields"].extend([
        {"name": "active", "label": "Active", "type": "boolean"},
        text("tier", default="bronze")]))
    rows = people_by_name(people)
    assert {r["active"] for r in rows.values()} == {False}
    assert {r["tier"] for r in rows.values()} == {"bronze"}
    with pytest.raises(ConversionRefused) as caught:
        change(people, lambda b: obj(b, "person")["fields"].append(text("nickname", required=True)))
    assert caught.value.problems[0].code == "schema.required_without_default"
    assert "nickname" not in columns(people, "person")


def test_rename_field_and_object_keep_the_data(people: Any) -> None:
    def rename(bundle: dict[str, Any]) -> None:
        person = obj(bundle, "person")
        person.update(name="human", renamed_from="person")
        field(bundle, "human", "code").update(name="badge", renamed_from="code")

    applied = change(people, rename)
    assert [s["step"] for s in applied.plan.step_dicts()] == ["RenameTable", "RenameColumn"]
    from rapport.runtime.query import QuerySpec

    records = people.query(QuerySpec("human", sort=("name",))).records
    assert [r["badge"] for r in records] == ["A-1", "B-22", "red"]


def test_label_and_help_changes_are_metadata_only(people: Any) -> None:
    def relabel(bundle: dict[str, Any]) -> None:
        field(bundle, "person", "age").update(label="Age in years", help_text="whole years")

    plan = people.metadata.plan(edited_with(people.bundle, relabel))
    assert [(s["step"], s["ddl"]) for s in plan.step_dicts()] == [("MetadataOnly", False)]


def retype(target: dict[str, Any], **options: Any) -> None:
    """Give a field a new type: keep its common keys, replace its options."""
    for key in ("max_length", "precision", "scale", "values", "min", "max", "restricted"):
        target.pop(key, None)
    target.update(options)


def edited_with(bundle: dict[str, Any], edit: Any) -> dict[str, Any]:
    copy = edited(bundle)
    edit(copy)
    return copy


def test_widening_is_safe_and_narrowing_needs_confirmation_then_restores(people: Any) -> None:
    change(people, lambda b: field(b, "person", "code").update(max_length=100))
    assert people.records().create("person", {"name": "Dee", "code": "D" * 90})["code"] == "D" * 90
    # narrowing where every value still fits loses nothing: no confirmation needed
    fits = change(people, lambda b: field(b, "person", "code").update(max_length=90))
    assert [s["safety"] for s in fits.plan.step_dicts()] == ["safe"]
    with pytest.raises(ConfirmationRequired) as caught:
        change(people, lambda b: field(b, "person", "code").update(max_length=3))
    assert caught.value.code == "schema.confirmation_required"
    assert people_by_name(people)["Dee"]["code"] == "D" * 90
    change(people, lambda b: field(b, "person", "code").update(max_length=3), confirm_data_loss=True)
    rows = people_by_name(people)
    assert rows["Dee"]["code"] == "DDD" and rows["Bob"]["code"] == "B-2" and rows["Ann"]["code"] == "A-1"
    entry = people.metadata.trash()[0]
    assert (entry["kind"], entry["field"], entry["rows"]) == ("values", "code", 2)
    people.records().update("person", rows["Bob"]["id"], {"code": "B-3"})  # edited since: kept
    restored = people.metadata.restore(entry["id"], author="test")
    assert restored.notes == ("1 record(s) changed since the narrowing kept their current value",)
    rows = people_by_name(people)
    assert rows["Dee"]["code"] == "D" * 90 and rows["Bob"]["code"] == "B-3"
    assert people.metadata.bundle().object("person").field("code").max_length == 90  # as before the cut


def test_precision_change_rounds_only_with_confirmation(people: Any) -> None:
    change(people, lambda b: field(b, "person", "score").update(precision=12, scale=2))
    with pytest.raises(ConfirmationRequired):
        change(people, lambda b: field(b, "person", "score").update(scale=1))
    change(people, lambda b: field(b, "person", "score").update(scale=1), confirm_data_loss=True)
    assert people_by_name(people)["Bob"]["score"] == 2.3


def test_required_and_unique_refuse_with_the_record_ids(people: Any) -> None:
    cy = people_by_name(people)["Cy"]["id"]
    with pytest.raises(ConversionRefused) as caught:
        change(people, lambda b: field(b, "person", "age").update(required=True))
    problem = caught.value.problems[0]
    assert problem.code == "schema.blank_values_exist" and cy in problem.message
    people.records().update("person", cy, {"age": 9})
    change(people, lambda b: field(b, "person", "age").update(required=True))

    people.records().create("person", {"name": "Ann", "age": 1})
    with pytest.raises(ConversionRefused) as caught:
        change(people, lambda b: field(b, "person", "name").update(unique=True))
    assert caught.value.problems[0].code == "schema.duplicates_exist"
    assert not indexes(people, "person").get(("name",))


def test_indexed_flag_creates_and_drops_the_index(people: Any) -> None:
    change(people, lambda b: field(b, "person", "age").update(indexed=True))
    assert ("age",) in indexes(people, "person")
    change(people, lambda b: field(b, "person", "age").pop("indexed"))
    assert ("age",) not in indexes(people, "person")


def test_removing_a_picklist_value_in_use_moves_it_aside(people: Any) -> None:
    def drop_blue(bundle: dict[str, Any]) -> None:
        field(bundle, "person", "color")["values"] = [{"value": "red", "label": "Red"}]

    with pytest.raises(ConfirmationRequired):
        change(people, drop_blue)
    change(people, drop_blue, confirm_data_loss=True)
    assert people_by_name(people)["Bob"]["color"] is None
    assert people.metadata.trash()[0]["rows"] == 1


def test_type_conversions(people: Any) -> None:
    change(people, lambda b: retype(field(b, "person", "age"), type="number", precision=6, scale=1))
    assert people_by_name(people)["Bob"]["age"] == 40.0
    change(people, lambda b: retype(field(b, "person", "score"), type="text", max_length=20))
    assert people_by_name(people)["Bob"]["score"] == "2.25"
    # text -> picklist: values that are not in the list refuse the change, naming the records
    picklist = {"type": "picklist", "values": [{"value": "A-1", "label": "A"}]}
    with pytest.raises(ConversionRefused) as caught:
        change(people, lambda b: retype(field(b, "person", "code"), **picklist))
    problem = caught.value.problems[0]
    bob = people_by_name(people)["Bob"]["id"]
    assert problem.code == "schema.not_convertible" and bob in problem.message
    assert problem.pointer == "/objects/person/fields/code/type"
    # text -> integer refuses non-numbers
    with pytest.raises(ConversionRefused):
        change(people, lambda b: retype(field(b, "person", "name"), type="integer"))
    # a conversion that does not exist is refused up front, listing what is possible
    with pytest.raises(ConversionRefused) as caught:
        change(people, lambda b: retype(field(b, "person", "color"), type="date"))
    assert caught.value.problems[0].code == "schema.unsupported_conversion"
    assert people.metadata.revisions()[-1].number == 3  # the refused applies stored nothing


def test_delete_field_and_object_move_data_aside_until_purged(people: Any, settings: Any) -> None:
    with pytest.raises(ConfirmationRequired):
        change(people, lambda b: drop_field(b, "person", "code"))
    change(people, lambda b: drop_field(b, "person", "code"), confirm_data_loss=True)
    assert "code" not in columns(people, "person")
    assert people_by_name(people)["Ann"].get("code") is None
    people.metadata.restore(people.metadata.trash()[0]["id"], author="test")
    assert people_by_name(people)["Ann"]["code"] == "A-1"

    change(people, lambda b: b.update(objects=[make_object("other", text("x"))]), confirm_data_loss=True)
    entry = next(e for e in people.metadata.trash() if e["kind"] == "object")
    assert entry["rows"] == 3
    with pytest.raises(Conflict) as caught:
        people.metadata.purge(entry["id"])
    assert caught.value.code == "schema.retention_not_over"
    assert people.metadata.purge() == []  # nothing has expired yet
    people.metadata.restore(entry["id"], author="test")
    assert set(people_by_name(people)) == {"Ann", "Bob", "Cy"}


def test_purge_after_retention(org_factory: Any, app: Any) -> None:
    app.settings = app.settings.with_(retention_days=0)
    short = org_factory()
    short.settings = app.settings
    short.metadata.apply(minimal(make_object("thing", text("x"), text("y"))), author="t")
    short.records().create("thing", {"x": "1", "y": "2"})
    short.metadata.apply(minimal(make_object("thing", text("x"))), author="t", confirm_data_loss=True)
    [entry] = short.metadata.trash()
    assert short.metadata.purge() == [entry["id"]]
    assert short.metadata.trash() == []
    with pytest.raises(NotFound):
        short.metadata.restore(entry["id"], author="t")


def test_invalid_bundles_never_reach_the_database(org: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        org.metadata.apply({"objects": [{"name": "Bad Name", "label": "x", "fields": []}]}, author="t")
    assert caught.value.code == "metadata.invalid"
    assert org.metadata.revisions() == []


def test_revisions_diff_and_revert(people: Any) -> None:
    change(people, lambda b: field(b, "person", "code").update(name="badge", renamed_from="code"))
    change(people, lambda b: obj(b, "person")["fields"].append(text("extra")))
    numbers = [r.number for r in people.metadata.revisions()]
    assert numbers == [1, 2, 3]
    described = [c.describe() for c in people.metadata.diff(1, 3)]
    assert "add field 'person.badge' (text)" in described and "delete field 'person.code' (text)" in described
    applied = people.metadata.revert(1, author="test", confirm_data_loss=True)
    assert applied.revision.number == 4 and applied.revision.message == "revert to revision 1"
    steps = [s["step"] for s in applied.plan.step_dicts()]
    assert "RenameColumn" in steps  # the rename is undone as a rename: the data stays
    assert people_by_name(people)["Bob"]["code"] == "B-22"


def test_another_process_sees_a_new_revision(org: Any, settings: Any) -> None:
    from rapport.platform.app import Rapport

    org.metadata.apply(minimal(make_object("thing", text("x"))), author="t")
    other = Rapport(settings)
    try:
        other_org = other.org(org.name)
        assert other_org.model().revision == 1
        org.metadata.apply(minimal(make_object("thing", text("x"), text("y"))), author="t")
        assert other_org.model().revision == 2
        assert other_org.records().create("thing", {"y": "seen"})["y"] == "seen"
    finally:
        other.close()


def test_autonumbers_survive_renames_and_number_existing_records(org: Any) -> None:
    bundle = minimal(make_object("ticket", text("title")))
    org.metadata.apply(bundle, author="t")
    org.records().create_many("ticket", [{"title": "old 1"}, {"title": "old 2"}])
    number = {"name": "number", "label": "Number", "type": "autonumber", "format": "T-{000}", "start": 10}
    bundle = minimal(make_object("ticket", text("title"), number))
    org.metadata.apply(bundle, author="t")
    from rapport.runtime.query import QuerySpec

    numbers = [r["number"] for r in org.query(QuerySpec("ticket", sort=("created_at", "id"))).records]
    assert numbers == ["T-010", "T-011"]  # existing records numbered oldest first
    renamed = minimal(make_object("case", text("title"), {**number, "name": "case_number", "renamed_from": "number"},
                                  renamed_from="ticket"))
    org.metadata.apply(renamed, author="t")
    assert org.records().create("case", {"title": "new"})["case_number"] == "T-012"


def test_lookup_target_and_master_detail_changes_check_the_data(org: Any) -> None:
    parent = make_object("parent", text("name"))
    other = make_object("other", text("name"))
    child = make_object("child", text("name"), {"name": "parent", "label": "Parent", "type": "lookup",
                                               "target": "parent"})
    org.metadata.apply(minimal(parent, other, child), author="t")
    records = org.records()
    mom = records.create("parent", {"name": "mom"})
    records.create_many("child", [{"name": "a", "parent": mom["id"]}, {"name": "orphan"}])
    retarget = edited(minimal(parent, other, child))
    field(retarget, "child", "parent")["target"] = "other"
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(retarget, author="t")
    assert caught.value.problems[0].code == "schema.not_convertible"
    master = edited(minimal(parent, other, child))
    field(master, "child", "parent").update(type="master_detail")
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(master, author="t")
    assert caught.value.problems[0].code == "schema.blank_values_exist"
    from rapport.runtime.query import QuerySpec

    orphan = org.query(QuerySpec("child", filter={"field": "name", "op": "eq", "value": "orphan"})).records[0]
    records.update("child", orphan["id"], {"parent": mom["id"]})
    org.metadata.apply(master, author="t")
    records.delete("parent", mom["id"])
    assert org.query(QuerySpec("child", count=True)).total == 0  # master-detail now cascades


def test_reserved_words_and_long_names_work_as_names(org: Any) -> None:
    long_object = "a" * 40
    fields = [text("select", unique=True), text("group", indexed=True),
              text("x" * 39 + "1", indexed=True), text("x" * 39 + "2", indexed=True)]
    org.metadata.apply(minimal(make_object("order", *fields), make_object(long_object, *fields)), author="t")
    for name in ("order", long_object):
        record = org.records().create(name, {"select": "s", "group": "g", "x" * 39 + "1": "one"})
        assert org.records().get(name, record["id"])["group"] == "g"
        assert len(indexes(org, name)) == 5  # default sort + four field indexes, no name clash


def test_renamed_names_are_free_again_and_lookups_follow_a_renamed_object(org: Any) -> None:
    account = make_object("account", text("name", unique=True),
                          {"name": "number", "label": "No", "type": "autonumber", "format": "A-{00}"})
    contact = make_object("contact", text("name"), {"name": "account", "label": "Account", "type": "lookup",
                                                    "target": "account"})
    org.metadata.apply(minimal(account, contact), author="t")
    acme = org.records().create("account", {"name": "Acme"})
    org.records().create("contact", {"name": "Lee", "account": acme["id"]})
    # rename account → customer: the lookup follows, its values stay
    customer = {**account, "name": "customer", "renamed_from": "account"}
    moved_contact = {**contact, "fields": [text("name"), {"name": "account", "label": "Account", "type": "lookup",
                                                          "target": "customer"}]}
    applied = org.metadata.apply(minimal(customer, moved_contact), author="t")
    assert [s["step"] for s in applied.plan.step_dicts()] == ["RenameTable"]
    from rapport.runtime.query import QuerySpec

    lee = org.query(QuerySpec("contact", fields=("name", "account.name"))).records[0]
    assert lee["account.name"] == "Acme"
    # the old names (table, indexes, sequence) can be used by a new object and field
    org.metadata.apply(minimal(customer, moved_contact, account), author="t")
    assert org.records().create("account", {"name": "Acme"})["number"] == "A-01"
    assert org.records().create("customer", {"name": "Globex"})["number"] == "A-02"
    renamed_field = {**customer, "fields": [text("title", unique=True, renamed_from="name"), customer["fields"][1]]}
    org.metadata.apply(minimal(renamed_field, moved_contact, account), author="t")
    again = {**renamed_field, "fields": [*renamed_field["fields"], text("name", unique=True)]}
    org.metadata.apply(minimal(again, moved_contact, account), author="t")
    assert org.records().create("customer", {"title": "Initech", "name": "Initech"})["title"] == "Initech"


def test_a_rename_whose_old_name_stays_in_the_bundle_is_refused(org: Any) -> None:
    org.metadata.apply(minimal(make_object("a", text("x"))), author="t")
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(minimal(make_object("a", text("x")), make_object("b", text("x"), renamed_from="a")),
                           author="t")
    assert [(p.pointer, p.code) for p in caught.value.problems] == [
        ("/objects/1/renamed_from", "schema.ambiguous_rename")]
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(minimal(make_object("a", text("x"), text("y", renamed_from="x"))), author="t")
    assert [p.code for p in caught.value.problems] == ["schema.ambiguous_rename"]


def test_restore_follows_renames_keeps_numbers_and_refuses_a_taken_name(org: Any) -> None:
    number = {"name": "number", "label": "No", "type": "autonumber", "format": "T-{000}"}
    org.metadata.apply(minimal(make_object("ticket", text("title", required=True), number)), author="t")
    org.records().create_many("ticket", [{"title": f"t{i}"} for i in range(3)])
    # delete the required title, then rename the object: restore finds it under its new name
    org.metadata.apply(minimal(make_object("ticket", number)), author="t", confirm_data_loss=True)
    [entry] = org.metadata.trash()
    org.metadata.apply(minimal(make_object("case", number, renamed_from="ticket")), author="t")
    org.records().create("case", {})  # a record created meanwhile has no title
    restored = org.metadata.restore(entry["id"], author="t")
    assert "restored as optional" in restored.notes[0]
    from rapport.runtime.query import QuerySpec

    rows = org.query(QuerySpec("case", sort=("number",), fields=("title", "number"))).records
    assert [(r["title"], r["number"]) for r in rows] == [("t0", "T-001"), ("t1", "T-002"), ("t2", "T-003"),
                                                          (None, "T-004")]
    # delete the object, restore it: its numbers continue after the highest
    org.metadata.apply(minimal(make_object("other", text("x"))), author="t", confirm_data_loss=True)
    entry = next(e for e in org.metadata.trash() if e["kind"] == "object")
    org.metadata.apply(minimal(make_object("other", text("x")), make_object("case", text("x"))), author="t")
    with pytest.raises(Conflict) as caught:
        org.metadata.restore(entry["id"], author="t")
    assert caught.value.code == "schema.restore_conflict"
    org.metadata.apply(minimal(make_object("other", text("x"))), author="t", confirm_data_loss=True)
    org.metadata.restore(entry["id"], author="t")
    assert org.records().create("case", {})["number"] == "T-005"


def test_restoring_a_field_whose_name_is_taken_again_is_refused(people: Any) -> None:
    change(people, lambda b: drop_field(b, "person", "code"), confirm_data_loss=True)
    change(people, lambda b: obj(b, "person")["fields"].append(text("code")))
    with pytest.raises(Conflict) as caught:
        people.metadata.restore(people.metadata.trash()[0]["id"], author="t")
    assert caught.value.code == "schema.restore_conflict"


def test_revert_undoes_chains_of_renames_across_revisions(org: Any) -> None:
    org.metadata.apply(minimal(make_object("a", text("f"))), author="t")
    org.records().create("a", {"f": "kept"})
    org.metadata.apply(minimal(make_object("b", text("g", renamed_from="f"), renamed_from="a")), author="t")
    org.metadata.apply(minimal(make_object("c", text("h", renamed_from="g"), renamed_from="b")), author="t")
    applied = org.metadata.revert(1, author="t")  # no confirmation: nothing is lost
    steps = [s["step"] for s in applied.plan.step_dicts()]
    assert steps[:2] == ["RenameTable", "RenameColumn"] and set(steps[2:]) == {"MetadataOnly"}  # labels
    from rapport.runtime.query import QuerySpec

    assert [r["f"] for r in org.query(QuerySpec("a")).records] == ["kept"]


def test_booleans_change_type_in_both_directions(org: Any) -> None:
    flag = {"name": "flag", "label": "Flag", "type": "boolean"}
    count = {"name": "count", "label": "Count", "type": "integer"}
    org.metadata.apply(minimal(make_object("t", text("name"), flag, count)), author="t")
    org.records().create_many("t", [{"name": "yes", "flag": True, "count": 1}, {"name": "blank", "flag": False}])
    org.metadata.apply(minimal(make_object("t", text("name"), {**flag, "type": "text"},
                                           {**count, "type": "boolean"})), author="t")
    from rapport.runtime.query import QuerySpec

    rows = {r["name"]: r for r in org.query(QuerySpec("t")).records}
    assert (rows["yes"]["flag"], rows["blank"]["flag"]) == ("true", "false")
    assert (rows["yes"]["count"], rows["blank"]["count"]) == (True, False)  # no value became false
    created = org.records().create("t", {"name": "new"})
    assert created["flag"] is None and created["count"] is False


def test_changes_that_would_duplicate_unique_values_are_refused(org: Any) -> None:
    org.metadata.apply(minimal(make_object("t", text("code", unique=True, max_length=10))), author="t")
    org.records().create_many("t", [{"code": "abcX"}, {"code": "abcY"}])
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(minimal(make_object("t", text("code", unique=True, max_length=3))), author="t",
                           confirm_data_loss=True)
    assert [p.code for p in caught.value.problems] == ["schema.duplicates_exist"]
    with pytest.raises(ConversionRefused) as caught:
        org.metadata.apply(minimal(make_object("t", text("code", unique=True, max_length=10),
                                               text("slug", unique=True, default="x"))), author="t")
    assert [p.code for p in caught.value.problems] == ["schema.duplicates_exist"]
