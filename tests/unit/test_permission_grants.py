"""Profiles and permission sets: the checks made when metadata is saved, and the grants
compiled from them (implied permissions, the union of grants, built-in profiles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from rapport.platform.errors import ValidationFailed
from rapport.runtime.compiled import compile_org
from rapport.runtime.loading import load
from rapport.runtime.permissions import (
    BUILTIN_PROFILES, SYSTEM_PERMISSIONS, FieldAccess, Grants, check_assignment, compile_grants,
)
from tests.support.bundles import make_object

HIDDEN, READ, EDIT = FieldAccess.HIDDEN, FieldAccess.READ, FieldAccess.EDIT
PERMISSIONS = ("read", "create", "edit", "delete", "view_all", "modify_all")

STAGES = [{"value": "open", "label": "Open", "default": True}, {"value": "won", "label": "Won"}]
DEAL = make_object("deal", {"name": "name", "label": "Name", "type": "text", "required": True},
                   {"name": "amount", "label": "Amount", "type": "currency"},
                   {"name": "stage", "label": "Stage", "type": "picklist", "required": True, "values": STAGES},
                   {"name": "region", "label": "Region", "type": "text", "required": True, "default": "emea"},
                   {"name": "note", "label": "Note", "type": "text"})
ACCOUNT = make_object("account", {"name": "name", "label": "Name", "type": "text"})
DEAL_FIELDS = ("name", "amount", "stage", "region", "note")


Components = Sequence[dict[str, Any]]


def bundle(profiles: Components = (), permission_sets: Components = ()) -> dict[str, Any]:
    return {"objects": [DEAL, ACCOUNT], "profiles": list(profiles), "permission_sets": list(permission_sets)}


def grants(profile: str, *permission_sets: str, profiles: Components = (), sets: Components = ()) -> Grants:
    return compile_grants(load(bundle(profiles, sets)), profile, permission_sets)


def rep(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "rep", "objects": list(entries), **extra}


def flags(granted: Grants, object_name: str) -> set[str]:
    return {p for p, on in granted.on(object_name).to_dict().items() if on}


def fields(granted: Grants, object_name: str = "deal", names: tuple[str, ...] = DEAL_FIELDS) -> dict[str, FieldAccess]:
    grant = granted.on(object_name)
    return {name: grant.field_access(name) for name in names}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load(data)
    assert caught.value.code == "metadata.invalid"
    return [(p.pointer, p.code) for p in caught.value.problems]


# -- compiled grants -------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "expected"), [
    ({}, set()),
    ({"read": True}, {"read"}),
    ({"create": True}, {"read", "create"}),
    ({"edit": True}, {"read", "edit"}),
    ({"delete": True}, {"read", "edit", "delete"}),
    ({"view_all": True}, {"read", "view_all"}),
    ({"modify_all": True}, set(PERMISSIONS)),
], ids=["nothing", "read", "create", "edit", "delete", "view_all", "modify_all"])
def test_permissions_imply_the_ones_they_need(entry: dict[str, Any], expected: set[str]) -> None:
    granted = grants("rep", profiles=[rep({"object": "deal", **entry})])
    assert flags(granted, "deal") == expected
    assert ("deal" in granted.objects) is bool(expected)  # only readable objects are compiled
    assert flags(granted, "account") == set()  # an object not listed grants nothing


def test_a_user_gets_the_most_that_their_profile_and_permission_sets_give() -> None:
    profile = rep({"object": "deal", "read": True, "fields": {"amount": "hidden", "stage": "read", "note": "read"}})
    sets: list[dict[str, Any]] = [
        {"name": "amounts", "objects": [{"object": "deal", "edit": True, "default_field_access": "hidden",
                                         "fields": {"amount": "read", "note": "hidden"}}]},
        {"name": "stages", "objects": [{"object": "deal", "default_field_access": "hidden",
                                        "fields": {"stage": "edit"}},
                                       {"object": "account", "delete": True}]},
        {"name": "unused", "system_permissions": ["manage_users"],
         "objects": [{"object": "deal", "modify_all": True}]},
    ]
    alone = grants("rep", profiles=[profile], sets=sets)
    assert flags(alone, "deal") == {"read"} and flags(alone, "account") == set()
    assert fields(alone) == {"name": EDIT, "amount": HIDDEN, "stage": READ, "region": EDIT, "note": READ}

    both = grants("rep", "amounts", "stages", profiles=[profile], sets=sets)
    assert flags(both, "deal") == {"read", "edit"}
    # field access is the highest any source gives; "hidden" in one source takes nothing away
    assert fields(both) == {"name": EDIT, "amount": READ, "stage": EDIT, "region": EDIT, "note": READ}
    assert flags(both, "account") == {"read", "edit", "delete"}
    assert both.system_permissions == frozenset()  # "unused" is not assigned
    assert grants("rep", "unused", profiles=[profile], sets=sets).system_permissions == {"manage_users"}


@pytest.mark.parametrize(("entry", "expected"), [
    ({"read": True}, {"name": EDIT, "amount": EDIT, "stage": EDIT, "region": EDIT, "note": EDIT}),
    ({"read": True, "default_field_access": "read", "fields": {"note": "edit"}},
     {"name": READ, "amount": READ, "stage": READ, "region": READ, "note": EDIT}),
    ({"read": True, "default_field_access": "hidden", "fields": {"name": "read"}},
     {"name": READ, "amount": HIDDEN, "stage": HIDDEN, "region": HIDDEN, "note": HIDDEN}),
    ({"default_field_access": "edit", "fields": {"name": "edit"}},  # no read on the object: no field either
     {"name": HIDDEN, "amount": HIDDEN, "stage": HIDDEN, "region": HIDDEN, "note": HIDDEN}),
], ids=["default-edit", "default-read", "default-hidden", "no-read"])
def test_fields_not_listed_get_the_default_field_access(entry: dict[str, Any],
                                                        expected: dict[str, FieldAccess]) -> None:
    granted = grants("rep", profiles=[rep({"object": "deal", **entry})])
    assert fields(granted) == expected
    system = granted.on("deal").field_access("owner")
    assert system is (READ if entry.get("read") else HIDDEN)  # system fields: readable wherever the object is


def test_the_built_in_profiles() -> None:
    admin = grants("admin")
    assert admin.system_permissions == frozenset(SYSTEM_PERMISSIONS) and not admin.unrestricted
    standard = grants("standard")
    assert standard.system_permissions == frozenset()
    for name in ("deal", "account"):
        assert flags(admin, name) == set(PERMISSIONS)
        assert flags(standard, name) == {"read", "create", "edit", "delete"}  # within record sharing
    assert fields(admin) == dict.fromkeys(DEAL_FIELDS, EDIT) == fields(standard)
    assert BUILTIN_PROFILES == ("admin", "standard")


def test_an_unknown_profile_or_permission_set_grants_nothing() -> None:
    nothing = grants("nobody", "nothing", profiles=[rep({"object": "deal", "read": True})])
    assert nothing.objects == {} and nothing.system_permissions == frozenset()
    assert fields(nothing) == dict.fromkeys(DEAL_FIELDS, HIDDEN)


@pytest.mark.parametrize(("system", "expected_flags", "amount"), [
    ("view_all_data", {"read", "view_all"}, READ),
    ("modify_all_data", set(PERMISSIONS), EDIT),
])
def test_all_data_permissions_act_on_every_object(system: str, expected_flags: set[str],
                                                   amount: FieldAccess) -> None:
    profile = rep({"object": "deal", "read": True, "fields": {"amount": "hidden", "note": "read"}},
                  system_permissions=[system])
    granted = grants("rep", profiles=[profile])
    assert granted.system_permissions == {system}
    assert flags(granted, "account") == expected_flags  # not listed in the profile, still granted
    assert flags(granted, "deal") == expected_flags
    # every field can be read; only modify_all_data lets a user edit a field the profile keeps read-only
    assert fields(granted)["amount"] is amount and fields(granted)["note"] is amount
    assert fields(granted)["name"] is EDIT  # the profile's own grant stays


# -- checks when metadata is saved -------------------------------------------------------------

@pytest.mark.parametrize(("profiles", "sets", "expected"), [
    ([{"name": "admin"}, {"name": "standard"}], [],
     [("/profiles/0/name", "metadata.reserved_name"), ("/profiles/1/name", "metadata.reserved_name")]),
    ([rep({"object": "invoice", "read": True})], [],
     [("/profiles/0/objects/0/object", "metadata.unknown_object")]),
    ([], [{"name": "extra", "objects": [{"object": "deal", "read": True, "fields": {"amout": "read"}}]}],
     [("/permission_sets/0/objects/0/fields/amout", "metadata.unknown_field")]),
    ([rep({"object": "deal", "read": True, "fields": {"owner": "hidden", "created_at": "read"}})], [],
     [("/profiles/0/objects/0/fields/created_at", "metadata.system_field"),  # problems come sorted by pointer
      ("/profiles/0/objects/0/fields/owner", "metadata.system_field")]),
    ([rep({"object": "deal", "read": True}, {"object": "account", "read": True}, {"object": "deal", "edit": True})],
     [], [("/profiles/0/objects/2/object", "metadata.duplicate_name")]),
    ([rep({"object": "deal", "create": True, "fields": {"name": "read"}})], [],
     [("/profiles/0/objects/0/fields/name", "metadata.required_field_not_editable")]),
    ([rep({"object": "deal", "modify_all": True, "default_field_access": "hidden",
           "fields": {"stage": "edit", "region": "edit"}})], [],
     [("/profiles/0/objects/0/default_field_access", "metadata.required_field_not_editable")]),
    ([], [{"name": "extra", "objects": [{"object": "deal", "create": True, "fields": {"name": "hidden"}}]}],
     [("/permission_sets/0/objects/0/fields/name", "metadata.required_field_not_editable")]),
], ids=["reserved", "unknown-object", "unknown-field", "system-field", "duplicate-object",
        "required-read-only", "required-by-default", "required-in-permission-set"])
def test_profiles_and_permission_sets_are_checked(profiles: list[dict[str, Any]], sets: list[dict[str, Any]],
                                                  expected: list[tuple[str, str]]) -> None:
    assert problems(bundle(profiles, sets)) == expected


@pytest.mark.parametrize("entry", [
    {"object": "deal", "read": True, "edit": True, "fields": {"name": "read"}},  # no create: nothing to fill in
    # a required field with a default (a value or a picklist's default value) fills itself in
    {"object": "deal", "create": True, "fields": {"region": "read", "stage": "read", "amount": "hidden"}},
], ids=["no-create", "defaults"])
def test_required_fields_need_editing_only_by_those_who_create_without_a_default(entry: dict[str, Any]) -> None:
    loaded = load(bundle([rep(entry)]))
    assert [p.name for p in loaded.profiles] == ["rep"]


def test_check_messages_name_the_component_object_and_field() -> None:
    data = bundle([{"name": "admin"}, rep({"object": "deal", "create": True, "fields": {"name": "read"}},
                                          {"object": "deal", "read": True},
                                          {"object": "account", "read": True, "fields": {"version": "read",
                                                                                       "nme": "read"}})])
    with pytest.raises(ValidationFailed) as caught:
        load(data)
    assert [(p.pointer, p.message) for p in caught.value.problems] == [
        ("/profiles/0/name", "profile name 'admin' is reserved for a built-in profile ('admin', 'standard'); "
                             "choose another name"),
        ("/profiles/1/objects/0/fields/name",
         "profile 'rep': field 'name' of object 'deal' is required and has no default, so users who may create "
         "deal records must be able to edit it (it is 'read')"),
        ("/profiles/1/objects/1/object", "profile 'rep': object 'deal' is listed more than once "
                                         "(first at /profiles/1/objects/0)"),
        ("/profiles/1/objects/2/fields/nme",
         "profile 'rep': 'nme' is not a field of object 'account'; its fields are 'name'"),
        ("/profiles/1/objects/2/fields/version",
         "profile 'rep': 'version' is a system field of object 'account'; system fields are readable wherever "
         "the object is and cannot be restricted"),
    ]


# -- assigning profiles and permission sets to users ---------------------------------------------

@pytest.fixture
def model() -> Any:
    sets = [{"name": "amounts", "objects": [{"object": "deal", "read": True}]}]
    return compile_org("acme", 1, load(bundle([rep({"object": "deal", "read": True})], sets)))


@pytest.mark.parametrize(("profile", "permission_sets"), [
    ("rep", ()), ("rep", ("amounts",)), ("admin", ()), ("standard", ("amounts",)),
])
def test_a_profile_and_permission_sets_the_metadata_defines_can_be_assigned(
        model: Any, profile: str, permission_sets: tuple[str, ...]) -> None:
    check_assignment(model, profile, permission_sets)  # raises nothing


UNKNOWN_PROFILE = "org 'acme' has no profile 'manager'; profiles are 'admin', 'standard', 'rep'"
UNKNOWN_SET = "org 'acme' has no permission set 'approvals'; permission sets are 'amounts'"


@pytest.mark.parametrize(("profile", "permission_sets", "code", "detail", "expected"), [
    ("manager", (), "users.unknown_profile", UNKNOWN_PROFILE,
     [("/profile", "users.unknown_profile", UNKNOWN_PROFILE)]),
    ("rep", ("amounts", "approvals"), "users.unknown_permission_set", UNKNOWN_SET,
     [("/permission_sets/1", "users.unknown_permission_set", UNKNOWN_SET)]),
    ("manager", ("approvals",), "users.unknown_profile", "unknown profile or permission sets",
     [("/profile", "users.unknown_profile", UNKNOWN_PROFILE),
      ("/permission_sets/0", "users.unknown_permission_set", UNKNOWN_SET)]),
], ids=["profile", "permission-set", "both"])
def test_unknown_profiles_and_permission_sets_are_refused(model: Any, profile: str, permission_sets: tuple[str, ...],
                                                         code: str, detail: str,
                                                         expected: list[tuple[str, str, str]]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_assignment(model, profile, permission_sets)
    assert (caught.value.code, caught.value.message, caught.value.status) == (code, detail, 422)
    assert [(p.pointer, p.code, p.message) for p in caught.value.problems] == expected


def test_an_org_without_permission_sets_says_so() -> None:
    bare = compile_org("acme", 1, load({"objects": [ACCOUNT]}))
    with pytest.raises(ValidationFailed) as caught:
        check_assignment(bare, "standard", ["approvals"])
    assert caught.value.message == "org 'acme' has no permission set 'approvals'; permission sets are none"


def test_a_master_detail_field_counts_as_required_without_saying_so() -> None:
    line = make_object("line", {"name": "deal", "label": "Deal", "type": "master_detail", "target": "deal"})
    data = {**bundle([rep({"object": "line", "create": True, "fields": {"deal": "read"}})]),
            "objects": [DEAL, ACCOUNT, line]}
    assert problems(data) == [("/profiles/0/objects/0/fields/deal", "metadata.required_field_not_editable")]
