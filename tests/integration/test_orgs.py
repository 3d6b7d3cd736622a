"""Orgs (tenants): lifecycle, export on delete, and isolation through every service."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from rapport.platform.app import Rapport
from rapport.platform.errors import AlreadyExists, InvalidRequest, NotFound
from rapport.platform.settings import Settings
from rapport.runtime.query import QuerySpec
from tests.support.bundles import drop_field, edited, sales_bundle


def test_create_list_show_and_refuse_bad_or_duplicate_names(app: Any) -> None:
    suffix = uuid.uuid4().hex[:8]  # the PostgreSQL platform schema is shared by the test session
    acme, globex = f"acme_{suffix}", f"globex_{suffix}"
    app.create_org(acme, "Acme Corp")
    app.create_org(globex)
    names = [o.name for o in app.orgs.list()]
    assert acme in names and globex in names and names == sorted(names)
    assert app.orgs.get(acme).label == "Acme Corp"
    assert app.orgs.get(globex).label == f"Globex {suffix}".title()
    with pytest.raises(AlreadyExists) as duplicate:
        app.create_org(acme)
    assert duplicate.value.code == "orgs.already_exists"
    for bad in ("Acme", "1acme", "a-b", "x" * 41, "", "acme_"):
        with pytest.raises(InvalidRequest) as caught:
            app.create_org(bad)
        assert caught.value.code == "orgs.bad_name"
    with pytest.raises(NotFound) as missing:
        app.org("initech")
    assert missing.value.code == "orgs.not_found"


def test_delete_exports_everything_first(app: Any, tmp_path: Path) -> None:
    doomed = f"doomed_{uuid.uuid4().hex[:8]}"
    app.create_org(doomed)
    org = app.org(doomed)
    org.metadata.apply(sales_bundle(), author="t")
    account = org.records().create("account", {"name": "Acme"})
    export = app.delete_org(doomed, tmp_path / "exports")
    assert json.loads((export / "org.json").read_text())["name"] == doomed
    accounts = [json.loads(line) for line in (export / "account.jsonl").read_text().splitlines()]
    assert [a["id"] for a in accounts] == [account["id"]]
    revisions = (export / "_revisions.jsonl").read_text().splitlines()
    assert len(revisions) == 1
    with pytest.raises(NotFound):
        app.org(doomed)
    assert doomed not in [o.name for o in app.orgs.list()]
    app.create_org(doomed)  # the name is free again, and the new org starts empty
    assert app.org(doomed).metadata.revisions() == []


def test_org_b_never_sees_org_a(org_factory: Any) -> None:
    a, b = org_factory(), org_factory()
    a.metadata.apply(sales_bundle(), author="a")
    b.metadata.apply(sales_bundle(), author="b")
    records_a, records_b = a.records(), b.records()
    account = records_a.create("account", {"name": "Only in A"})
    deal = records_a.create("deal", {"name": "Secret", "account": account["id"], "amount": 5})
    records_a.update("deal", deal["id"], {"amount": 6})
    # records: get, update, delete, list, filter, and lookups to A's ids all miss in B
    with pytest.raises(NotFound):
        records_b.get("deal", deal["id"])
    with pytest.raises(NotFound):
        records_b.update("deal", deal["id"], {"amount": 1})
    with pytest.raises(NotFound):
        records_b.delete("deal", deal["id"])
    assert b.query(QuerySpec("deal", count=True)).total == 0
    assert b.query(QuerySpec("account", filter={"field": "id", "op": "eq", "value": account["id"]})).records == []
    with pytest.raises(Exception) as lookup:
        records_b.create("deal", {"name": "x", "account": account["id"]})
    assert lookup.value.problems[0].code == "records.lookup_not_found"
    # metadata: bundle, revisions, diff and moved-aside data are per org
    changed = edited(sales_bundle())
    drop_field(changed, "deal", "next_step")
    a.metadata.apply(changed, author="a", confirm_data_loss=True)
    assert len(a.metadata.revisions()) == 2 and len(b.metadata.revisions()) == 1
    assert b.metadata.bundle().object("deal").field("next_step") is not None
    assert len(a.metadata.trash()) == 1 and b.metadata.trash() == []
    with pytest.raises(NotFound):
        b.metadata.restore(a.metadata.trash()[0]["id"], author="b")
    with pytest.raises(NotFound):
        b.metadata.diff(1, 2)
    # A's record is untouched by everything B tried
    assert records_a.get("deal", deal["id"])["amount"] == 6


def test_a_re_created_org_is_a_new_org_in_every_process(app: Any, settings: Any, tmp_path: Path) -> None:
    from rapport.platform.app import Rapport
    from tests.support.bundles import make_object, minimal

    name = f"reborn_{uuid.uuid4().hex[:8]}"
    app.create_org(name)
    app.org(name).metadata.apply(minimal(make_object("secret", {"name": "x", "label": "X", "type": "text"})),
                                 author="t")
    app.org(name).records().create("secret", {"x": "old tenant data"})
    other = Rapport(settings)  # another process, warmed up on the old org
    try:
        assert other.org(name).query(QuerySpec("secret")).records[0]["x"] == "old tenant data"
        app.delete_org(name, tmp_path / "exports")
        app.create_org(name)
        app.org(name).metadata.apply(minimal(make_object("other", {"name": "y", "label": "Y", "type": "text"})),
                                     author="t")
        with pytest.raises(NotFound) as caught:
            other.org(name).query(QuerySpec("secret"))
        assert caught.value.code == "records.unknown_object"
        assert other.org(name).query(QuerySpec("other")).records == []
    finally:
        other.close()


def test_a_new_embedded_data_directory_is_readable_by_rapports_user_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    Rapport(Settings(data_dir=data)).close()
    assert data.stat().st_mode & 0o777 == 0o700  # sandbox workers (another user) cannot read org files
