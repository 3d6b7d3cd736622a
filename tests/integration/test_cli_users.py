"""``rapport user ...`` and ``rapport key ...``, run in-process on a database of each test's own."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rapport.platform.users import UserService

from rapport.platform.app import Rapport
from rapport.platform.cli import main
from rapport.platform.errors import Unauthorized
from rapport.platform.settings import Settings
from tests.support.bundles import sales_bundle

Run = Callable[..., tuple[int, str, str]]
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch, fresh_database_url: str | None) -> None:
    """Each test runs the CLI on its own database: SQLite files, or a fresh PostgreSQL one."""
    for name in ("RAPPORT_DATABASE_URL", "RAPPORT_REDIS_URL", "RAPPORT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    if fresh_database_url is not None:
        monkeypatch.setenv("RAPPORT_DATABASE_URL", fresh_database_url)


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``stdin("text")`` makes the next command read ``text`` from a pipe (or, ``tty=True``, a terminal)."""

    def feed(text: str = "", *, tty: bool = False) -> None:
        monkeypatch.setattr("sys.stdin", FakeStdin(text, tty))

    feed()
    return feed


@pytest.fixture
def rapport(tmp_path: Path, capsys: pytest.CaptureFixture[str], stdin: Callable[..., None]) -> Run:
    """``rapport(*args)`` → (exit code, stdout, stderr), with ``--data-dir`` in ``tmp_path``."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(tmp_path / "data"), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def acme(rapport: Run) -> str:
    assert rapport("org", "create", "acme")[0] == 0
    return "acme"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Rapport]:
    """The same deployment the CLI writes to, to check logins and keys."""
    rapport = Rapport(Settings.from_env().with_(data_dir=tmp_path / "data"))
    yield rapport
    rapport.close()


def test_create_with_a_piped_password_then_log_in(rapport: Run, acme: str, stdin: Callable[..., None],
                                                  app: Rapport) -> None:
    stdin(PASSWORD + "\n")
    code, out, err = rapport("user", "create", "--org", acme, "Ann@Example.com", "--name", "Ann Lee",
                             "--email", "ann@example.com", "--password-stdin")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "created user 'ann@example.com' in org 'acme' with profile 'standard', with a password")
    assert app.users.authenticate_password("ann@example.com", PASSWORD).org.name == acme

    shown = json.loads(rapport("user", "show", "--org", acme, "ann@example.com", "--json")[1])
    assert (shown["name"], shown["email"], shown["has_password"], shown["active"]) == (
        "Ann Lee", "ann@example.com", True, True)
    assert "password_hash" not in shown and PASSWORD not in json.dumps(shown)
    code, out, _ = rapport("user", "show", "--org", acme, "ann@example.com")
    assert code == 0 and "name:            Ann Lee\n" in out and "last login:      2" in out


def test_create_without_a_password_source(rapport: Run, acme: str, stdin: Callable[..., None],
                                          monkeypatch: pytest.MonkeyPatch, app: Rapport) -> None:
    assert rapport("user", "create", "--org", acme, "bob.smith") == (
        1, "", "error: no password given and stdin is not a terminal to ask for one: use --password-stdin or "
        "--no-password [cli.password_required]\n")
    code, out, _ = rapport("user", "create", "--org", acme, "bob.smith", "--no-password")
    assert code == 0 and "without a password (API keys only)" in out
    code, _, err = rapport("user", "create", "--org", acme, "carl.jones", "--no-password", "--password-stdin")
    assert code == 2 and "not allowed with argument" in err
    code, _, err = rapport("user", "create", "--org", acme, "carl.jones", "--password", PASSWORD)
    assert code == 2 and "unrecognized arguments: --password" in err  # never a command-line argument

    typed = iter([PASSWORD, "something else!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    stdin(tty=True)
    assert rapport("user", "create", "--org", acme, "carl.jones") == (
        1, "", "error: the two passwords differ; nothing was changed [cli.passwords_differ]\n")
    typed = iter([PASSWORD, PASSWORD])
    assert rapport("user", "create", "--org", acme, "carl.jones")[0] == 0
    assert app.users.authenticate_password("carl.jones", PASSWORD).user.username == "carl.jones"


def test_refusals_name_the_rule(rapport: Run, acme: str, stdin: Callable[..., None]) -> None:
    stdin("short\n")
    assert rapport("user", "create", "--org", acme, "dora", "--password-stdin") == (
        1, "", "error: the password is too weak: it must have at least 10 characters [users.weak_password]\n")
    stdin("")
    assert rapport("user", "create", "--org", acme, "dora", "--password-stdin") == (
        1, "", "error: --password-stdin read no password: stdin was empty [cli.password_missing]\n")
    code, _, err = rapport("user", "create", "--org", acme, "dora", "--no-password", "--profile", "sales_rep")
    assert code == 1 and err == (
        "error: org 'acme' has no profile 'sales_rep'; profiles are 'admin', 'standard' [users.unknown_profile]\n"
        "  /profile: org 'acme' has no profile 'sales_rep'; profiles are 'admin', 'standard' "
        "[users.unknown_profile]\n")
    code, _, err = rapport("user", "create", "--org", acme, "x", "--no-password")
    assert code == 1 and err.startswith("error: username 'x' is not allowed: use 3-80 ")
    assert err.endswith("(an email address works) [users.bad_username]\n")
    assert rapport("user", "create", "--org", "initech", "dora", "--no-password")[2].startswith(
        "error: org 'initech' does not exist [orgs.not_found]")
    assert rapport("user", "create", "--org", acme, "dora", "--no-password")[0] == 0
    assert rapport("user", "create", "--org", acme, "DORA", "--no-password") == (
        1, "", "error: username 'dora' is already taken [users.already_exists]\n")


def test_list_update_and_set_password(rapport: Run, acme: str, stdin: Callable[..., None], app: Rapport,
                                      tmp_path: Path) -> None:
    assert "org 'acme' has no users yet" in rapport("user", "list", "--org", acme)[1]
    bundle = sales_bundle()
    bundle["permission_sets"] = [{"name": "discounts"}, {"name": "exports"}]
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    assert rapport("metadata", "apply", "--org", acme, str(tmp_path / "bundle.json"))[0] == 0
    assert rapport("user", "create", "--org", acme, "eve", "--no-password", "--permission-set", "discounts",
                   "--permission-set", "exports", "--profile", "admin")[0] == 0
    assert rapport("user", "create", "--org", acme, "finn", "--no-password")[0] == 0
    code, out, _ = rapport("user", "list", "--org", acme)
    assert code == 0 and out.splitlines() == [
        "username  name  profile   permission sets     status  last login (UTC)",
        "eve       eve   admin     discounts, exports  active  never",
        "finn      finn  standard                      active  never",
    ]

    code, out, _ = rapport("user", "update", "--org", acme, "finn", "--name", "Finn F", "--inactive",
                           "--permission-set", "exports")
    assert code == 0 and "name:            Finn F\n" in out and "status:          inactive\n" in out
    assert "permission sets: exports\n" in out
    updated = json.loads(rapport("user", "update", "--org", acme, "finn", "--no-permission-sets", "--active",
                                 "--email", "finn@example.com", "--json")[1])
    assert (updated["permission_sets"], updated["active"], updated["email"]) == ([], True, "finn@example.com")
    assert rapport("user", "update", "--org", acme, "finn", "--permission-set", "nope") == (
        1, "", "error: org 'acme' has no permission set 'nope'; permission sets are 'discounts', 'exports' "
        "[users.unknown_permission_set]\n  /permission_sets/0: org 'acme' has no permission set 'nope'; "
        "permission sets are 'discounts', 'exports' [users.unknown_permission_set]\n")
    assert rapport("user", "update", "--org", acme, "finn") == (
        1, "", "error: nothing to change: give --name, --email, --profile, --permission-set, --no-permission-sets, "
        "--active or --inactive [cli.nothing_to_change]\n")

    stdin(PASSWORD + "\r\n")
    assert rapport("user", "set-password", "--org", acme, "finn", "--password-stdin") == (
        0, "set the password of user 'finn'; their login sessions have ended\n", "")
    assert app.users.authenticate_password("finn", PASSWORD).user.name == "Finn F"
    assert rapport("user", "set-password", "--org", acme, "finn") == (
        1, "", "error: no password given and stdin is not a terminal to ask for one: use --password-stdin "
        "[cli.password_required]\n")
    assert rapport("user", "set-password", "--org", acme, "nobody", "--password-stdin") == (
        1, "", "error: user 'nobody' does not exist in org 'acme' [users.not_found]\n")


def test_keys_create_list_revoke(rapport: Run, acme: str, app: Rapport) -> None:
    assert rapport("user", "create", "--org", acme, "gus", "--no-password")[0] == 0
    code, out, err = rapport("key", "create", "--org", acme, "--user", "gus", "ci")
    lines = out.splitlines()
    assert (code, err, len(lines)) == (0, "", 3)
    assert lines[0].startswith("created API key 'ci' (") and lines[0].endswith(") for user 'gus':")
    assert lines[2] == "store it now: it will not be shown again"
    secret = lines[1]
    assert secret.startswith("rk_") and app.users.authenticate_key(secret).user.username == "gus"

    created = json.loads(rapport("key", "create", "--org", acme, "--user", "gus", "zapier", "--json")[1])
    assert set(created) == {"id", "name", "user", "key"} and (created["name"], created["user"]) == ("zapier", "gus")
    assert app.users.authenticate_key(created["key"]).user.username == "gus"

    listed = json.loads(rapport("key", "list", "--org", acme, "--json")[1])
    assert [k["name"] for k in listed] == ["ci", "zapier"] and listed[0]["last_used_at"] is not None
    assert secret not in json.dumps(listed) and created["key"] not in rapport("key", "list", "--org", acme)[1]
    code, out, _ = rapport("key", "revoke", "--org", acme, created["id"])
    assert (code, out) == (0, f"revoked API key 'zapier' ({created['id']}) of user 'gus'\n")
    with pytest.raises(Unauthorized):  # as a server process that had not checked the key before sees it
        UserService(app.db).authenticate_key(created["key"])
    code, out, _ = rapport("key", "list", "--org", acme, "--user", "gus")
    assert code == 0 and out.splitlines()[0].split() == ["id", "name", "user", "created", "(UTC)", "last", "used",
                                                         "(UTC)", "status"]
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ["active", "revoked"]

    assert rapport("key", "revoke", "--org", acme, "nope") == (
        1, "", "error: API key 'nope' does not exist in this org [api_keys.not_found]\n")
    assert rapport("key", "create", "--org", acme, "--user", "nobody", "ci") == (
        1, "", "error: user 'nobody' does not exist in org 'acme' [users.not_found]\n")
    assert rapport("org", "create", "globex")[0] == 0
    assert "no API keys" in rapport("key", "list", "--org", "globex")[1]
