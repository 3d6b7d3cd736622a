"""The ``rapport`` command line, run in-process on the embedded database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rapport.metadata.folder import write_bundle_folder
from rapport.platform.cli import main
from rapport.runtime.loading import load
from tests.support.bundles import drop_field, field, obj, sales_bundle

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch, fresh_database_url: str | None) -> None:
    """Each test runs the CLI on its own database: SQLite files, or a fresh PostgreSQL one."""
    for name in ("RAPPORT_DATABASE_URL", "RAPPORT_REDIS_URL", "RAPPORT_DATA_DIR",
                 "RAPPORT_BACKGROUND_THRESHOLD_ROWS"):
        monkeypatch.delenv(name, raising=False)
    if fresh_database_url is not None:
        monkeypatch.setenv("RAPPORT_DATABASE_URL", fresh_database_url)


@pytest.fixture
def rapport(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``rapport(*args)`` → (exit code, stdout, stderr), with ``--data-dir`` in ``tmp_path``."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(tmp_path / "data"), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def sales(tmp_path: Path) -> str:
    return write_json(tmp_path / "sales.json", sales_bundle())


@pytest.fixture
def demo_org(rapport: Run, sales: str) -> str:
    assert rapport("org", "create", "acme")[0] == 0
    assert rapport("metadata", "apply", "--org", "acme", sales)[0] == 0
    return "acme"


def test_org_create_list_show_delete(rapport: Run, tmp_path: Path) -> None:
    assert rapport("org", "create", "acme", "--label", "Acme Inc")[1].startswith("created org 'acme' (Acme Inc)")
    code, out, _ = rapport("org", "list", "--json")
    assert code == 0 and [o["name"] for o in json.loads(out)] == ["acme"]
    assert "revision: none yet" in rapport("org", "show", "acme")[1]

    code, _, err = rapport("org", "delete", "acme", "--export-dir", str(tmp_path / "exports"))
    assert code == 1 and "an export is written to" in err and "--yes" in err
    assert "[cli.confirmation_required]" in err and not (tmp_path / "exports").exists()

    code, out, _ = rapport("org", "delete", "acme", "--export-dir", str(tmp_path / "exports"), "--yes")
    assert code == 0 and "deleted org 'acme'" in out
    (export,) = (tmp_path / "exports").iterdir()
    assert (export / "org.json").is_file() and list(export.glob("*.jsonl"))
    assert "no orgs yet" in rapport("org", "list")[1]
    code, _, err = rapport("org", "show", "acme")
    assert code == 1 and err.startswith("error: org 'acme' does not exist [orgs.not_found]")


def test_validate_a_file_a_folder_and_every_problem(rapport: Run, sales: str, tmp_path: Path) -> None:
    assert rapport("metadata", "validate", sales) == (
        0, "valid: 3 objects, 28 fields, 2 layouts, 1 list view, 2 validation rules\n", "")
    write_bundle_folder(load(sales_bundle()), tmp_path / "folder")
    assert rapport("metadata", "validate", str(tmp_path / "folder"))[1].startswith("valid: 3 objects")

    bad = sales_bundle()
    obj(bad, "deal")["name"] = "Deal"
    obj(bad, "account")["fields"][0]["type"] = "nope"
    code, out, err = rapport("metadata", "validate", write_json(tmp_path / "bad.json", bad))
    assert code == 1 and out == ""
    assert err.startswith("error: metadata bundle is invalid (")
    assert "\n  /objects/0/fields/0/type: field 'name' of object 'account': type 'nope'" in err
    assert "\n  /objects/2/name: " in err and "[metadata.bad_name]" in err

    formula = sales_bundle()
    field(formula, "deal", "weighted_amount")["expression"] = "IF(amount > 10,\n   amount * 2,\n   \"small\")"
    code, _, err = rapport("metadata", "validate", write_json(tmp_path / "formula.json", formula))
    assert code == 1 and err.endswith(
        "  /objects/2/fields/9/expression: formula field 'deal.weighted_amount': line 3, column 4: IF argument 3: "
        "the two results of IF must all have one type; got a number and text [formula.wrong_type]\n"
        '         "small")\n'
        "         ^\n")

    (tmp_path / "broken.json").write_text('{"objects": [\n  {"name": }\n]}')
    code, _, err = rapport("metadata", "validate", str(tmp_path / "broken.json"))
    assert code == 1 and "broken.json' is not valid JSON: line 2, column 12" in err and "[cli.bad_json]" in err


def test_plan_apply_pull_round_trip(rapport: Run, sales: str, tmp_path: Path) -> None:
    rapport("org", "create", "acme")
    code, out, _ = rapport("metadata", "plan", "--org", "acme", sales)
    assert code == 0 and "[safe] create table 'deal'" in out.replace('"', "'")
    assert len(json.loads(rapport("metadata", "plan", "--org", "acme", sales, "--json")[1])["steps"]) == 8

    code, out, _ = rapport("metadata", "apply", "--org", "acme", sales, "-m", "first", "--author", "ann")
    assert code == 0 and out.endswith("applied: revision 1\n")
    assert rapport("metadata", "apply", "--org", "acme", sales)[1] == "No changes.\n"

    folder = tmp_path / "pulled"
    assert rapport("metadata", "pull", "--org", "acme", str(folder)) == (
        0, f"wrote 8 files to {folder} (revision 1)\n", "")
    assert rapport("metadata", "validate", str(folder))[0] == 0
    assert rapport("metadata", "plan", "--org", "acme", str(folder))[1] == "No changes.\n"
    revisions = json.loads(rapport("metadata", "revisions", "--org", "acme", "--json")[1])
    assert [(r["number"], r["author"], r["message"]) for r in revisions] == [(1, "ann", "first")]


def test_data_loss_needs_confirmation_and_lands_in_the_trash(rapport: Run, demo_org: str, tmp_path: Path) -> None:
    lee = '{"last_name": "Lee", "phone": "555 0100"}'
    contact = json.loads(rapport("record", "create", "--org", demo_org, "contact", lee)[1])["id"]
    no_phone = sales_bundle()
    drop_field(no_phone, "contact", "phone")
    path = write_json(tmp_path / "no_phone.json", no_phone)

    code, out, err = rapport("metadata", "apply", "--org", demo_org, path)
    assert code == 1 and "[LOSES DATA] delete field 'contact.phone'" in out
    assert "[schema.confirmation_required]" in err and "--confirm-data-loss" in err
    code, out, _ = rapport("metadata", "apply", "--org", demo_org, path, "--confirm-data-loss")
    assert code == 0 and out.endswith("applied: revision 2\n")

    code, out, _ = rapport("metadata", "trash", "--org", demo_org)
    assert code == 0 and "contact.phone" in out
    (entry,) = json.loads(rapport("metadata", "trash", "--org", demo_org, "--json")[1])
    restored = rapport("metadata", "restore", "--org", demo_org, str(entry["id"]))[1]
    assert restored == f"restored #{entry['id']}: revision 3\n"
    assert json.loads(rapport("record", "get", "--org", demo_org, "contact", contact)[1])["phone"] == "555 0100"

    rapport("metadata", "apply", "--org", demo_org, path, "--confirm-data-loss")
    (_, again) = json.loads(rapport("metadata", "trash", "--org", demo_org, "--json")[1])
    assert rapport("metadata", "purge", "--org", demo_org)[1].startswith("nothing to purge")
    code, _, err = rapport("metadata", "purge", "--org", demo_org, "--id", str(again["id"]))
    assert code == 1 and "[schema.retention_not_over]" in err and "--force" in err
    assert rapport("metadata", "purge", "--org", demo_org, "--id", str(again["id"]), "--force")[1] == (
        f"purged: #{again['id']}\n")


def test_revisions_diff_and_revert(rapport: Run, demo_org: str, tmp_path: Path) -> None:
    more = sales_bundle()
    obj(more, "deal")["fields"].append({"name": "region", "label": "Region", "type": "text"})
    rapport("metadata", "apply", "--org", demo_org, write_json(tmp_path / "more.json", more), "-m", "region")
    code, out, _ = rapport("metadata", "revisions", "--org", demo_org)
    assert code == 0 and out.splitlines()[0].split() == ["#", "created", "(UTC)", "author", "steps", "message"]
    assert out.splitlines()[2].split()[-3:] == ["cli", "1", "region"]
    assert rapport("metadata", "diff", "--org", demo_org, "1", "2")[1] == "  add field 'deal.region' (text)\n"
    assert "no differences" in rapport("metadata", "diff", "--org", demo_org, "2", "2")[1]

    code, _, err = rapport("metadata", "revert", "--org", demo_org, "1")
    assert code == 1 and "\n  delete field 'deal.region'" in err and "[schema.confirmation_required]" in err
    code, out, _ = rapport("metadata", "revert", "--org", demo_org, "1", "--confirm-data-loss")
    assert code == 0 and out.endswith("reverted to revision 1: revision 3\n")
    code, _, err = rapport("metadata", "diff", "--org", demo_org, "1", "9")
    assert code == 1 and "[metadata.revision_not_found]" in err


def test_background_apply_follows_the_job(rapport: Run, sales: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rapport("org", "create", "acme")
    code, out, err = rapport("metadata", "apply", "--org", "acme", sales, "--background")
    assert code == 0 and "applying in the background (as asked)" in out
    assert "applying [" in err and "100% 8/8" in err
    assert out.splitlines()[-1].startswith("job ") and out.endswith("finished: revision 1\n")

    account = json.loads(rapport("record", "create", "--org", "acme", "account", '{"name": "A"}')[1])["id"]
    deals = [{"name": f"Deal {n}", "account": account, "stage": "proposal"} for n in range(12)]
    assert rapport("record", "create", "--org", "acme", "deal", json.dumps(deals))[0] == 0
    monkeypatch.setenv("RAPPORT_BACKGROUND_THRESHOLD_ROWS", "10")
    more = sales_bundle()
    obj(more, "deal")["fields"].append({"name": "region", "label": "Region", "type": "text"})
    code, out, _ = rapport("metadata", "apply", "--org", "acme", write_json(tmp_path / "more.json", more))
    assert code == 0 and "12 rows affected, over the 10-row threshold" in out
    assert out.endswith("finished: revision 2\n")

    jobs = json.loads(rapport("job", "list", "--org", "acme", "--json")[1])
    assert [(j["kind"], j["status"]) for j in jobs] == [("metadata.apply", "finished")] * 2
    shown = rapport("job", "show", jobs[0]["id"])[1]
    assert "status: finished after 1 attempt(s)" in shown and '"revision": 2' in shown
    code, _, err = rapport("job", "show", "nope")
    assert code == 1 and "[jobs.not_found]" in err


def test_record_commands(rapport: Run, demo_org: str, tmp_path: Path) -> None:
    code, out, _ = rapport("record", "create", "--org", demo_org, "account", '{"name": "Globex", "industry": "retail"}')
    globex = json.loads(out)
    assert code == 0 and globex["account_number"] == "ACC-00001" and globex["version"] == 1
    deals = [{"name": f"D{n}", "account": globex["id"], "stage": stage, "amount": 100 * n}
             for n, stage in enumerate(["proposal", "proposal", "closed_won"], 1)]
    created = json.loads(rapport("record", "create", "--org", demo_org, "deal",
                                 "@" + write_json(tmp_path / "deals.json", deals))[1])
    assert [d["deal_number"] for d in created] == ["D-00001", "D-00002", "D-00003"]

    code, out, _ = rapport("record", "list", "--org", demo_org, "deal", "--filter",
                           '{"field": "stage", "op": "eq", "value": "proposal"}',
                           "--fields", "name,account.name,amount", "--sort", "-amount", "--count")
    page = json.loads(out)
    assert code == 0 and page["total"] == 2 and page["next_cursor"] is None
    assert [(r["name"], r["account.name"], r["amount"]) for r in page["records"]] == [
        ("D2", "Globex", 200), ("D1", "Globex", 100)]
    first = json.loads(rapport("record", "list", "--org", demo_org, "deal", "--sort", "name", "--limit", "2")[1])
    rest = json.loads(rapport("record", "list", "--org", demo_org, "deal", "--sort", "name",
                              "--cursor", first["next_cursor"])[1])
    assert [r["name"] for r in first["records"] + rest["records"]] == ["D1", "D2", "D3"]

    deal = created[0]["id"]
    updated = json.loads(rapport("record", "update", "--org", demo_org, "deal", deal, '{"stage": "negotiation"}',
                                 "--version", "1")[1])
    assert updated["stage"] == "negotiation" and updated["version"] == 2
    code, _, err = rapport("record", "update", "--org", demo_org, "deal", deal, '{"amount": 5}', "--version", "1")
    assert code == 1 and "[records.stale_version]" in err
    assert json.loads(rapport("record", "get", "--org", demo_org, "deal", deal)[1])["stage"] == "negotiation"
    assert json.loads(rapport("record", "delete", "--org", demo_org, "deal", deal, "--version", "2")[1])["deleted"]
    code, _, err = rapport("record", "get", "--org", demo_org, "deal", deal)
    assert code == 1 and "not_found]" in err

    code, _, err = rapport("record", "create", "--org", demo_org, "deal", '{"name": "X", "stage": "won"}')
    assert code == 1 and "\n  /stage: field 'stage' on object 'deal': 'won' is not one of" in err
    assert "\n  /account: " in err and "[records.validation_failed]" in err


def test_bad_input_is_a_message_not_a_traceback(rapport: Run, demo_org: str) -> None:
    code, out, err = rapport("record", "create", "--org", demo_org, "account", '{"name": "X",}')
    assert (code, out) == (1, "")
    assert err == ("error: argument JSON is not valid JSON: line 1, column 14: "
                   "Expecting property name enclosed in double quotes [cli.bad_json]\n")
    code, _, err = rapport("record", "list", "--org", demo_org, "deal", "--filter", "{stage: 1}")
    assert code == 1 and "argument --filter is not valid JSON: line 1, column 2" in err
    code, _, err = rapport("record", "create", "--org", demo_org, "account", "@missing.json")
    assert code == 1 and "file 'missing.json' does not exist [cli.file_not_found]" in err
    code, _, err = rapport("record", "create", "--org", demo_org, "account", '"just text"')
    assert code == 1 and "got a string [cli.bad_records]" in err
    code, _, err = rapport("record", "list", "--org", "nope", "deal")
    assert code == 1 and "error: org 'nope' does not exist [orgs.not_found]" in err
    assert rapport("record", "frobnicate")[0] == 2
    assert rapport("metadata", "plan", "bundle.json")[0] == 2  # --org is required


def test_demo_creates_an_org_with_sample_records(rapport: Run, tmp_path: Path, backend: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    demo = ("demo", "--no-serve", "--allow-postgres") if backend == "postgres" else ("demo", "--no-serve")
    code, out, err = rapport(*demo, "--records", "60")
    assert code == 0, err
    assert "created 8 accounts, 24 contacts and 28 deals in org 'demo'" in out
    assert "creating sample records [" in err and "100% 60/60" in err
    assert "--fields name,account.name,amount,weighted_amount,days_to_close --sort -weighted_amount" in out
    assert "In a browser: http://127.0.0.1:8000/ (log in as admin@demo.demo" in out
    assert "Authorization: Bearer rk_" in out
    shown = json.loads(rapport("org", "show", "demo", "--json")[1])
    assert shown["revision"] == 1 and shown["records"] == {"account": 8, "contact": 24, "deal": 28}
    proposals = json.loads(rapport("record", "list", "--org", "demo", "deal", "--filter",
                                   '{"field":"stage","op":"eq","value":"proposal"}', "--count")[1])
    assert proposals["total"] > 0 and all(r["probability"] == 50 for r in proposals["records"])

    assert "already has sample records" in rapport(*demo, "--records", "60")[1]
    code, out, _ = rapport(*demo, "--records", "30", "--reset")
    assert code == 0 and "deleted org 'demo'" in out and "created 4 accounts" in out
    assert list((tmp_path / "data" / "exports").glob("demo-*/org.json"))

    monkeypatch.setenv("RAPPORT_DATABASE_URL", "postgresql://localhost/rapport")
    code, _, err = rapport("demo")
    assert code == 1 and "[demo.not_embedded]" in err and "--allow-postgres" in err
