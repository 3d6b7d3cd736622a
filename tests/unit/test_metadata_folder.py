"""A bundle as a folder of JSON files: write, read back, load, and the errors on the way."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

import pytest

from rapport.metadata import (
    Bundle, FieldDef, ObjectDef, load_bundle, read_bundle_folder, write_bundle_folder,
)
from rapport.platform.errors import NotFound, Problem, ValidationFailed


@dataclasses.dataclass
class FakeType:
    """A FieldTypeSpec-shaped stand-in for the runtime's field-type registry."""

    name: str
    defaults: Mapping[str, Any]

    def check(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        return ()

    def is_required(self, field: FieldDef) -> bool:
        return field.required


REGISTRY = {
    name: FakeType(name, defaults) for name, defaults in [
        ("text", {"max_length": 255}), ("email", {}), ("date", {}), ("boolean", {}),
        ("currency", {"precision": 18, "scale": 2}), ("picklist", {"restricted": True}),
        ("lookup", {"on_delete": "set_null"}), ("autonumber", {"start": 1}),
    ]
}
SALES: dict[str, Any] = {
    "objects": [
        {"name": "account", "label": "Account", "name_field": "name", "sharing": "public_read",
         "soft_delete": True, "searchable": False,
         "fields": [{"name": "name", "label": "Name", "type": "text", "required": True},
                    {"name": "active", "label": "Active", "type": "boolean", "default": False}]},
        {"name": "contact", "label": "Contact", "fields": [
            {"name": "email", "label": "Email", "type": "email", "unique": True},
            {"name": "account", "label": "Account", "type": "lookup", "target": "account"},
        ]},
        {"name": "deal", "label": "Deal", "fields": [
            {"name": "number", "label": "Number", "type": "autonumber", "format": "D-{0000}"},
            {"name": "stage", "label": "Stage", "type": "picklist", "values": [
                {"value": "open", "label": "Open", "default": True},
                {"value": "lost", "label": "Lost", "active": False}]},
            {"name": "amount", "label": "Amount", "type": "currency", "scale": 0},
            {"name": "close_date", "label": "Close date", "type": "date"},
            {"name": "account", "label": "Account", "type": "lookup", "target": "account",
             "on_delete": "cascade"},
        ]},
    ],
    "layouts": [{"object": "deal", "name": "default", "sections": [
        {"label": "Deal", "columns": 2, "fields": ["number", {"field": "stage", "readonly": True}]}],
        "related_lists": []}],
    "list_views": [{"object": "deal", "name": "open_deals", "label": "Open deals",
                    "columns": ["number", "account.name"], "filter": {"stage": "open"},
                    "sort": ["-close_date"]}],
    "validation_rules": [{"object": "deal", "name": "amount_positive", "error_condition": "amount < 0",
                          "message": "Amount must not be negative", "field": "amount"}],
    "workflow_rules": [{"object": "deal", "name": "won", "actions": [{"type": "email", "to": "owner"}]}],
    "scripts": [{"name": "stamp", "object": "deal", "kind": "before_save", "code": "pass"},
                {"name": "nightly", "kind": "scheduled", "schedule": "0 2 * * *", "code": "pass"}],
}


@pytest.fixture
def bundle():
    return load_bundle(SALES, field_types=REGISTRY)


def test_write_read_load_round_trip(tmp_path: Path, bundle) -> None:
    written = write_bundle_folder(bundle, tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in written]
    assert relative == [
        "layouts/deal.default.json",
        "list_views/deal.open_deals.json",
        "objects/account.json",
        "objects/contact.json",
        "objects/deal.json",
        "scripts/deal.stamp.json",
        "scripts/nightly.json",
        "validation_rules/deal.amount_positive.json",
        "workflow_rules/deal.won.json",
    ]
    # Files are read in sorted order; SALES lists every kind in that order already.
    assert load_bundle(read_bundle_folder(tmp_path), field_types=REGISTRY) == bundle


def test_files_are_indented_json_with_trailing_newline(tmp_path: Path, bundle) -> None:
    write_bundle_folder(bundle, tmp_path)
    text = (tmp_path / "objects" / "deal.json").read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "name": "deal",')
    assert json.loads(text) == bundle.object("deal").to_dict()


def test_rewrite_is_stable_and_removes_stale_files(tmp_path: Path, bundle) -> None:
    write_bundle_folder(bundle, tmp_path)
    before = {p: p.read_text() for p in tmp_path.rglob("*.json")}
    (tmp_path / "objects" / "lead.json").write_text("{}")
    (tmp_path / "objects" / "notes.txt").write_text("kept")
    smaller = Bundle(objects=bundle.objects[:2])
    written = write_bundle_folder(smaller, tmp_path)
    assert [p.name for p in written] == ["account.json", "contact.json"]
    remaining = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert remaining == ["objects/account.json", "objects/contact.json"]
    assert (tmp_path / "objects" / "notes.txt").exists()
    assert all(before[p] == p.read_text() for p in written)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        read_bundle_folder(tmp_path / "nope")
    assert caught.value.code == "metadata.folder_not_found"


def test_a_folder_without_component_folders_is_not_taken_for_an_empty_bundle(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("metadata")
    (tmp_path / ".git").mkdir()
    with pytest.raises(ValidationFailed) as caught:  # applying {} would delete every object
        read_bundle_folder(tmp_path)
    assert caught.value.code == "metadata.not_a_bundle_folder"
    (tmp_path / "objects").mkdir()
    assert read_bundle_folder(tmp_path) == {}  # README and .git are fine beside the folders
    (tmp_path / "deal.json").write_text("{}")
    with pytest.raises(ValidationFailed) as caught:
        read_bundle_folder(tmp_path)
    assert [(p.pointer, p.code) for p in caught.value.problems] == [("/deal.json", "metadata.unknown_file")]


def test_bad_json_names_the_file(tmp_path: Path, bundle) -> None:
    write_bundle_folder(bundle, tmp_path)
    (tmp_path / "objects" / "deal.json").write_text('{\n  "name": "deal",\n  "label": }\n')
    with pytest.raises(ValidationFailed) as caught:
        read_bundle_folder(tmp_path)
    error = caught.value
    assert error.code == "metadata.bad_json"
    [problem] = error.problems
    assert (problem.pointer, problem.code) == ("/objects/deal.json", "metadata.bad_json")
    assert str(tmp_path / "objects" / "deal.json") in problem.message
    assert "line 3, column 12" in problem.message


def test_unknown_folder_and_files(tmp_path: Path, bundle) -> None:
    write_bundle_folder(bundle, tmp_path)
    (tmp_path / "triggers").mkdir()
    (tmp_path / "layouts" / "deal.default.yaml").write_text("x: 1")
    (tmp_path / "list_views" / "broken.json").write_text("[")
    with pytest.raises(ValidationFailed) as caught:
        read_bundle_folder(tmp_path)
    assert caught.value.code == "metadata.invalid"
    assert [(p.pointer, p.code) for p in caught.value.problems] == [
        ("/layouts/deal.default.yaml", "metadata.unknown_file"),
        ("/list_views/broken.json", "metadata.bad_json"),
        ("/triggers", "metadata.unknown_folder"),
    ]
    assert "'objects'" in caught.value.problems[2].message


def test_read_result_goes_through_the_loader(tmp_path: Path) -> None:
    data = copy.deepcopy(SALES)
    data["objects"][0]["fields"][0]["type"] = "pickles"
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "account.json").write_text(json.dumps(data["objects"][0]))
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(read_bundle_folder(tmp_path), field_types=REGISTRY)
    assert [p.pointer for p in caught.value.problems] == ["/objects/0/fields/0/type"]
