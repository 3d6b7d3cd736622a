"""The sandbox against a hostile script author, end to end, on SQLite and PostgreSQL.

Every attempt here is a real script of an org, applied as metadata through the REST API and
run the way the platform runs it: as a before-save trigger fired by ``POST
/api/v1/records/probe``, and as an endpoint called with ``GET /api/v1/custom/{name}`` (and
with ``POST``, which may write: the endpoint writes a marker record first). Each test checks
the four things an operator relies on:

(a) the exact refusal — the problem+json code, and the message where it is stable;
(b) nothing was written — the record the trigger guarded, and the marker record the
    endpoint wrote before its attempt, do not exist afterwards;
(c) the worker pool is healthy — a trivial endpoint answers right after, quickly (and a
    worker that had to be killed was replaced);
(d) the runs log kept the failed run, with its outcome, error code and line.

The sections:

- *Escape attempts* replay public RestrictedPython advisories and the tricks used against
  products built on it (Zope/Plone, Frappe server scripts, Odoo ``safe_eval``):
  CVE-2023-37271 (frames through generators and tracebacks), CVE-2023-41039 (``str.format``
  attribute walks), CVE-2024-47532 (``string.Formatter``, ``AttributeError.obj``),
  CVE-2025-22153 (``try/except*``), GHSA-ffg3-p8fm-mjx2 (shadowing a guard with a
  positional-only parameter), dunder walks to ``__subclasses__``/``__globals__``/builtins,
  the script API's own internals, the module wrappers, ``json`` hooks, ``decimal`` contexts,
  Unicode look-alikes of names, imports of ``os`` & co. Each is refused either when the
  bundle is applied (``compile-`` ids: the apply is refused with the script, line and
  column) or when the script runs (``runtime-`` ids).
- *Resource abuse* — endless loops, huge allocations and integers, deep recursion (Python
  and C), catastrophic regular expressions, output floods, a crash of the interpreter, too
  many queries, rows or writes, a trigger that updates its own record, and a run past its
  wall time — each stops with its limit's code within a bounded time.
- *Org isolation* — a script of one org tries to reach another's records by every means it
  has; and a worker used by one org serves the next with nothing left over.

One Rapport per database serves the whole module, with two orgs sharing ONE worker (so a
worker that served one org certainly serves the other) and low limits so every abuse stops
quickly. Each test applies the scripts it needs to the org before it runs them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from rapport.platform.app import Rapport
from rapport.platform.settings import Settings
from rapport.runtime.query import QuerySpec
from rapport.sandbox.pool import WorkerPool
from tests.support.api import BACKENDS, ApiOrg, ApiUser, problem, served_org
from tests.support.bundles import make_object

# -- the deployment ------------------------------------------------------------------------------

MEMORY = 192 * 1024 * 1024
SETTINGS = {"sandbox_workers": 1, "sandbox_limit_cpu_time": 1_000, "sandbox_limit_wall_time": 5_000,
            "sandbox_limit_queries": 20, "sandbox_limit_rows": 30, "sandbox_limit_dml_rows": 10,
            "sandbox_limit_output": 2_000, "sandbox_limit_memory": MEMORY}
#: how fast the pool must answer again after an attempt (a killed worker is replaced meanwhile)
RECOVERY_S = 3.0
#: how long past its limit a stopped run may take to answer
GRACE_S = 5.0

TEXT = {"name": "name", "label": "Name", "type": "text", "required": True}
PROBE = make_object("probe", TEXT, {"name": "note", "label": "Note", "type": "text"},
                    {"name": "n", "label": "N", "type": "integer"})
MARK = make_object("mark", TEXT)
ITEM = make_object("item", TEXT, {"name": "probe", "label": "Probe", "type": "lookup", "target": "probe"})
LEDGER = make_object("ledger", TEXT)  # both orgs have it; the rep may not read it
VAULT = make_object("vault", TEXT)  # only the second org has it
#: a profile that works with probes, marks and items, but may not read the ledger
PROFILES = [{"name": "rep", "objects": [
    {"object": o, "read": True, "create": True, "edit": True, "delete": True} for o in ("probe", "mark", "item")]}]
PING = {"name": "ping", "kind": "endpoint", "code": "respond({'pong': True})"}


@dataclass
class Deployment:
    backend: str
    rapport: Rapport
    acme: ApiOrg
    globex: ApiOrg
    admin: ApiUser  # acme's
    rep: ApiUser  # acme's, who may not read the ledger
    globex_admin: ApiUser

    def pool(self) -> WorkerPool:
        return self.rapport.sandbox.pool()


def bundle(*scripts: dict[str, Any], vault: bool = False) -> dict[str, Any]:
    objects = [PROBE, MARK, ITEM, LEDGER, *([VAULT] if vault else [])]
    return {"objects": objects, "profiles": PROFILES, "scripts": [PING, *scripts]}


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    backend = str(request.param)
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    data_dir = tmp_path_factory.mktemp(f"security-{backend}") / "data"
    rapport = Rapport(Settings(data_dir=data_dir, database_url=database_url).with_(**SETTINGS))
    orgs = []
    try:
        for vault in (False, True):
            org = rapport.create_org(f"t{uuid.uuid4().hex[:12]}")
            orgs.append(org)
            rapport.org(org.name).metadata.apply(bundle(vault=vault), author="tests")
        acme, globex = (ApiOrg(rapport, org.name) for org in orgs)
        acme.runtime.records().create_many("item", [{"name": f"i{n}"} for n in range(40)])  # past the rows limit
        yield Deployment(backend, rapport, acme, globex, acme.user("admin"), acme.user("rep"),
                         globex.user("admin"))
    finally:
        for org in orgs:
            rapport.db.drop_org_storage(org.name, org.id)
        rapport.close()


# -- helpers -------------------------------------------------------------------------------------

def trigger(name: str, code: str, kind: str = "before_save") -> dict[str, Any]:
    return {"name": name, "object": "probe", "kind": kind, "code": code}


def endpoint(name: str, code: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "endpoint", "code": code, **more}


def marked(name: str, code: str) -> str:
    """An endpoint's code that first writes a marker record when it may (a GET request only
    reads), then makes the attempt, one line down."""
    return f"create('mark', {{'name': {name!r}}}) if request['method'] == 'POST' else None\n{code}"


def arm(d: Deployment, *scripts: dict[str, Any], globex: bool = False) -> None:
    """Apply these scripts (and the ping endpoint) to acme, or to globex, through the API."""
    admin = d.globex_admin if globex else d.admin
    answer = admin.client.post("/api/v1/metadata/apply", json={"bundle": bundle(*scripts, vault=globex)})
    assert answer.status_code in (200, 201), answer.text


def names(org: ApiOrg, object_name: str) -> list[str]:
    return sorted(r["name"] for r in org.runtime.query(QuerySpec(object_name, limit=200)).records)


def last_run(d: Deployment, script: str) -> dict[str, Any]:
    """Acme's latest run of ``script`` in the runs log."""
    answer = d.admin.client.get("/api/v1/scripts/runs", params={"script": script, "limit": 1})
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["runs"]
    assert runs, f"no run of {script!r} in the runs log"
    return runs[0]


def assert_healthy(d: Deployment, pids_before: list[int], *, replaced: bool) -> None:
    """The pool answers a trivial endpoint again at once, with its one worker: the same one,
    or (after a kill) a new one."""
    started = time.monotonic()
    answer = d.admin.client.get("/api/v1/custom/ping")
    assert (answer.status_code, answer.json()) == (200, {"pong": True})
    assert time.monotonic() - started < RECOVERY_S
    pids = d.pool().worker_pids()
    assert len(pids) == 1
    assert (pids != pids_before) is replaced, (pids_before, pids)


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


# -- escape attempts refused when the bundle is applied ----------------------------------------

NOT_AVAILABLE = "is not available to scripts; they may import 'datetime', 'decimal', 'json', 'math', 're'"
UNDERSCORE = "names starting with '_' are not allowed: "
FRAMES = "is not allowed: it reaches the interpreter's frames and code"
FORMAT = "is not allowed (a format string can read attributes of its arguments); use an f-string"
DECIMAL_MEMBERS = ("'Decimal', 'InvalidOperation', 'ROUND_05UP', 'ROUND_CEILING', 'ROUND_DOWN', 'ROUND_FLOOR', "
                   "'ROUND_HALF_DOWN', 'ROUND_HALF_EVEN', 'ROUND_HALF_UP', 'ROUND_UP'")

#: name: (code, (line, column, message) of the first problem)
COMPILE_ESCAPES: dict[str, tuple[str, tuple[int, int, str]]] = {
    # CVE-2023-37271: frames (and their globals, builtins) through generators and tracebacks
    "generator_frame": ("g = (x for x in [1])\nf = g.gi_frame.f_back.f_globals",
                        (2, 7, f"attribute 'gi_frame' {FRAMES}")),
    "generator_code": ("g = (x for x in [1])\nc = g.gi_code", (2, 7, f"attribute 'gi_code' {FRAMES}")),
    "coroutine_frame": ("def peek(c):\n    return c.cr_frame", (2, 14, f"attribute 'cr_frame' {FRAMES}")),
    "traceback_frame": ("try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
                        (4, 11, UNDERSCORE + "'__traceback__'")),
    "tb_frame": ("def peek(tb):\n    return tb.tb_frame.f_globals", (2, 15, f"attribute 'tb_frame' {FRAMES}")),
    # CVE-2023-41039: format strings read attributes of their arguments
    "format_walk": ("x = '{0.__class__.__mro__}'.format(record)", (1, 29, f"'.format()' {FORMAT}")),
    "format_map_walk": ("x = '{r.__class__}'.format_map({'r': record})", (1, 21, f"'.format_map()' {FORMAT}")),
    "unbound_format": ("f = str.format\nx = f('{0.__class__}', record)", (1, 9, f"'.format()' {FORMAT}")),
    "fstring_format": ("x = f\"{'{0.__class__}'.format(record)}\"", (1, 24, f"'.format()' {FORMAT}")),
    "fstring_walk": ("x = f'{record.__class__}'", (1, 15, UNDERSCORE + "'__class__'")),
    # CVE-2024-47532: string.Formatter().get_field walks attributes too
    "string_formatter": ("import string\nx = string.Formatter().get_field('0.__class__', [record], {})",
                         (1, 8, f"module 'string' {NOT_AVAILABLE}")),
    # CVE-2025-22153: try/except* confused RestrictedPython's guards
    "except_star": ("try:\n    x = 1\nexcept* Exception as group:\n    x = group",
                    (1, 1, "'except*' is not allowed; use 'except'")),
    # GHSA-ffg3-p8fm-mjx2: shadow a guard in a function's scope to switch it off there
    "positional_only_guard": ("def f(_getattr_, /):\n    return record.x\nf(None)", (1, 7, UNDERSCORE + "'_getattr_'")),
    "positional_only_write": ("def f(_write_, /):\n    import math\n    math.pi = 3\nf(None)",
                              (1, 7, UNDERSCORE + "'_write_'")),
    "walrus_guard": ("if (_getattr_ := None) is None:\n    x = 1", (1, 5, UNDERSCORE + "'_getattr_'")),
    "comprehension_guard": ("x = [1 for _getiter_ in [1]]", (1, 12, UNDERSCORE + "'_getiter_'")),
    "caught_guard": ("try:\n    x = 1\nexcept Exception as _caught_:\n    x = 2", (3, 1, UNDERSCORE + "'_caught_'")),
    # dunder walks: to globals, builtins, every class of the interpreter
    "lambda_globals": ("x = (lambda: 0).__globals__", (1, 17, UNDERSCORE + "'__globals__'")),
    "record_class": ("x = record.__class__", (1, 12, UNDERSCORE + "'__class__'")),
    "subclasses_walk": ("x = ().__class__.__base__.__subclasses__()", (1, 8, UNDERSCORE + "'__class__'")),
    "mro_walk": ("x = str.__mro__[-1].__subclasses__()", (1, 9, UNDERSCORE + "'__mro__'")),
    "type_subclasses": ("x = type.__subclasses__(type)", (1, 10, UNDERSCORE + "'__subclasses__'")),
    "builtins_self": ("x = len.__self__", (1, 9, UNDERSCORE + "'__self__'")),
    "builtins_name": ("x = __builtins__['open']", (1, 5, UNDERSCORE + "'__builtins__'")),
    "dunder_import": ("os = __import__('os')", (1, 6, UNDERSCORE + "'__import__'")),
    "dunder_keyword": ("x = dict(__class__=1)", (1, 10, UNDERSCORE + "'__class__'")),
    "private_attribute": ("x = record._private", (1, 12, UNDERSCORE + "'_private'")),
    # the script API's own internals: closures, globals, the host objects behind the functions
    "api_closure": ("x = query.__closure__", (1, 11, UNDERSCORE + "'__closure__'")),
    "api_globals": ("x = log.__globals__", (1, 9, UNDERSCORE + "'__globals__'")),
    "api_wrapped": ("x = get.__wrapped__", (1, 9, UNDERSCORE + "'__wrapped__'")),
    "api_self": ("x = query.__self__", (1, 11, UNDERSCORE + "'__self__'")),
    "api_func": ("x = create.__func__", (1, 12, UNDERSCORE + "'__func__'")),
    "respond_wrapped": ("x = respond.__wrapped__", (1, 13, UNDERSCORE + "'__wrapped__'")),
    # imports: the host's modules, processes (fork), the import machinery, module internals
    "import_os": ("import os\nos.system('id')", (1, 8, f"module 'os' {NOT_AVAILABLE}")),
    "import_subprocess": ("import subprocess\nsubprocess.run(['id'])", (1, 8, f"module 'subprocess' {NOT_AVAILABLE}")),
    "fork": ("from os import fork\nfork()", (1, 1, f"module 'os' {NOT_AVAILABLE}")),
    "import_multiprocessing": ("import multiprocessing\nmultiprocessing.Process(target=log).start()",
                               (1, 8, f"module 'multiprocessing' {NOT_AVAILABLE}")),
    "import_pty": ("import pty\npty.spawn('/bin/sh')", (1, 8, f"module 'pty' {NOT_AVAILABLE}")),
    "import_ctypes": ("import ctypes\nctypes.CDLL(None).system(b'id')", (1, 8, f"module 'ctypes' {NOT_AVAILABLE}")),
    "import_importlib": ("import importlib\nos = importlib.import_module('os')",
                         (1, 8, f"module 'importlib' {NOT_AVAILABLE}")),
    "import_sys": ("import sys\nos = sys.modules['os']", (1, 8, f"module 'sys' {NOT_AVAILABLE}")),
    "import_builtins": ("import builtins\nx = builtins.open", (1, 8, f"module 'builtins' {NOT_AVAILABLE}")),
    # getattr by another name (RestrictedPython's own security notes: operator.attrgetter & co.)
    "import_operator": ("from operator import attrgetter\nx = attrgetter('__class__')(record)",
                        (1, 1, f"module 'operator' {NOT_AVAILABLE}")),
    "dotted_import": ("import datetime.sys", (1, 8, f"module 'datetime.sys' {NOT_AVAILABLE}")),
    "relative_import": ("from . import secrets", (1, 1, "relative imports are not allowed")),
    "star_import": ("from math import *", (1, 18, "'from math import *' is not allowed; import the names you use")),
    "json_internals": ("from json import decoder",
                       (1, 18, "module 'json' has no 'decoder' for scripts; it has 'dumps', 'loads'")),
    "decimal_context": ("from decimal import getcontext\ngetcontext().prec = 1",
                        (1, 21, f"module 'decimal' has no 'getcontext' for scripts; it has {DECIMAL_MEMBERS}")),
    "decimal_localcontext": ("from decimal import localcontext",
                             (1, 21, f"module 'decimal' has no 'localcontext' for scripts; it has {DECIMAL_MEMBERS}")),
    # dynamic code
    "eval": ("x = eval('1 + 1')", (1, 5, "eval() is not available to scripts")),
    "exec": ("exec('import os')", (1, 1, "exec() is not available to scripts")),
    "compile": ("code = compile('1', 'x', 'eval')", (1, 8, "compile() is not available to scripts")),
    "breakpoint": ("breakpoint()", (1, 1, "the name 'breakpoint' is reserved")),
    "print_rebound": ("print = log", (1, 1, "the name 'print' is reserved")),
    "printed": ("x = printed", (1, 5, "the name 'printed' is reserved; use log(...)")),
    # Unicode: identifiers are NFKC-normalised before the policy sees them
    "fullwidth_eval": ("x = \uff45val('1 + 1')", (1, 5, "eval() is not available to scripts")),
    "fullwidth_module": ("import \uff4fs", (1, 8, f"module 'os' {NOT_AVAILABLE}")),
    "fullwidth_underscores": ("os = \uff3f\uff3fimport\uff3f\uff3f('os')",
                              (1, 6, "syntax error: invalid character '\uff3f' (U+FF3F)")),
    "zero_width_underscores": ("os = _\u200b_import__('os')",
                               (1, 7, "syntax error: invalid non-printable character U+200B")),
    # statements that define new types, context managers, generators, or rebind the API
    "class_def": ("class Escape:\n    pass", (1, 1, "class definitions are not allowed; use dicts and functions")),
    "metaclass": ("class Meta(type):\n    def __new__(cls, *args):\n        return cls",
                  (1, 1, "class definitions are not allowed; use dicts and functions")),
    "datetime_subclass": ("from datetime import datetime\nclass Evil(datetime):\n    def isoformat(self):\n"
                          "        return self", (2, 1, "class definitions are not allowed; use dicts and functions")),
    "with_open": ("with open('/etc/passwd') as f:\n    x = f.read()",
                  (1, 1, "'with' statements are not allowed: scripts have no context managers")),
    "yield_generator": ("def walk():\n    yield 1", (2, 5, "'yield' is not allowed (no generator functions); build and "
                                                          "return a list")),
    "global_rebind": ("def f():\n    global query\n    query = None",
                      (2, 5, "'global' is not allowed; pass values to functions and return results")),
    "nonlocal_rebind": ("def f():\n    x = 1\n    def g():\n        nonlocal x\n        x = 2",
                        (4, 9, "'nonlocal' is not allowed; pass values to functions and return results")),
    "match_class_pattern": ("match record:\n    case dict(__class__=c):\n        x = c",
                            (1, 1, "'match' statements are not allowed; use if/elif")),
    "async_def": ("async def f():\n    return 1", (1, 1, "async functions are not allowed")),
    "return_in_finally": ("def f():\n    try:\n        1 / 0\n    finally:\n        return 1",
                          (5, 9, "'return' inside 'finally' is not allowed: it would swallow errors, limits included")),
    "too_long": ("x = 1\n" * 20_000, (1, 1, "the script is 120000 characters long; the limit is 100000")),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"compile-{n}") for n in COMPILE_ESCAPES])
def test_an_escape_attempt_is_refused_when_the_bundle_is_applied(deployment: Deployment, name: str) -> None:
    d = deployment
    arm(d)
    revision = d.admin.client.get("/api/v1/metadata").json()["revision"]
    code, (line, column, message) = COMPILE_ESCAPES[name]
    attempt = bundle(trigger(name, code), endpoint(name, code))
    body = problem(d.admin.client.post("/api/v1/metadata/apply", json={"bundle": attempt}), 422, "metadata.invalid")
    # (a) one problem per place, at the script's code, naming the script, line and column
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for error in body["errors"]:
        assert error["code"] == "sandbox.compile_error", error
        first.setdefault(error["pointer"], error["message"])
        counts[error["pointer"]] = counts.get(error["pointer"], 0) + 1
    where = f"line {line}, column {column}: {message}"
    assert first == {"/scripts/1/code": f"script 'probe.{name}', {where}",
                     "/scripts/2/code": f"script '{name}', {where}"}
    assert counts["/scripts/1/code"] == counts["/scripts/2/code"]
    # (b) nothing was written: no new revision, the scripts were never applied
    assert d.admin.client.get("/api/v1/metadata").json()["revision"] == revision
    problem(d.admin.client.get(f"/api/v1/custom/{name}"), 404, "sandbox.script_not_found")
    # (c) and (d): the pool answers; no run of the refused scripts was ever logged
    assert_healthy(d, d.pool().worker_pids(), replaced=False)
    runs = d.admin.client.get("/api/v1/scripts/runs", params={"script": f"probe.{name}"}).json()["runs"]
    assert runs == []


# -- escape attempts refused while the script runs -----------------------------------------------

NO_ATTRIBUTES = "scripts may read no attributes of it"
NOT_ALLOWED = "it is not one of the attributes scripts may use"
OWN_ITEMS = "scripts may change only the items of their own lists and dicts"


@dataclass(frozen=True)
class Refusal:
    """What a run-time refusal looks like: the script's line, the error's type and message."""

    line: int
    error_type: str
    message: str


def unreadable(line: int, attribute: str, of: str, why: str = NOT_ALLOWED) -> Refusal:
    return Refusal(line, "AccessDenied", f"cannot read attribute {attribute!r} of {of}: {why}")


def unwritable(line: int, what: str, of: str) -> Refusal:
    return Refusal(line, "AccessDenied", f"cannot set {what} of {of}: {OWN_ITEMS}")


def undefined(name: str) -> Refusal:
    return Refusal(1, "NameError", f"name {name!r} is not defined")


#: name: (code, refusal)
RUNTIME_ESCAPES: dict[str, tuple[str, Refusal]] = {
    # CVE-2024-47532: AttributeError.obj (any exception's internals) hands out the object
    "exception_obj": ("try:\n    int('x')\nexcept ValueError as e:\n    leaked = e.obj",
                      unreadable(4, "obj", "ValueError")),
    "exception_traceback": ("e = ValueError('x')\nt = e.with_traceback", unreadable(2, "with_traceback", "ValueError")),
    "decimal_signal_class": ("from decimal import Decimal, InvalidOperation\ntry:\n    Decimal('x')\n"
                             "except InvalidOperation as e:\n    signal = e.args[0][0]\n    x = signal.mro()",
                             unreadable(6, "mro", "class 'ConversionSyntax'", NO_ATTRIBUTES)),
    # classes and their method resolution order
    "str_mro": ("x = str.mro()", unreadable(1, "mro", "class 'str'", NO_ATTRIBUTES)),
    "scripterror_mro": ("x = ScriptError.mro()", unreadable(1, "mro", "class 'ScriptError'", NO_ATTRIBUTES)),
    # the script API's functions (bound methods of the worker's API object), Python 2 style
    "api_func_globals": ("x = query.func_globals", unreadable(1, "func_globals", "method", NO_ATTRIBUTES)),
    "api_func_closure": ("x = log.func_closure", unreadable(1, "func_closure", "method", NO_ATTRIBUTES)),
    "builtin_self": ("x = len.self", unreadable(1, "self", "builtin_function_or_method", NO_ATTRIBUTES)),
    "generator_send": ("g = (x for x in [1])\nx = g.send", unreadable(2, "send", "generator", NO_ATTRIBUTES)),
    "print_internals": ("x = print.log", unreadable(1, "log", "method", NO_ATTRIBUTES)),
    "dict_view_mapping": ("x = {'a': 1}.keys().mapping", unreadable(1, "mapping", "dict_keys", NO_ATTRIBUTES)),
    "str_encode": ("x = 'abc'.encode()", unreadable(1, "encode", "str")),
    # introspection builtins are simply not there
    "getattr": ("x = getattr(record, '__class__')", undefined("getattr")),
    "vars": ("x = vars()", undefined("vars")),
    "dir": ("x = dir()", undefined("dir")),
    "globals": ("x = globals()", undefined("globals")),
    "locals": ("x = locals()", undefined("locals")),
    "type": ("x = type(record)", undefined("type")),
    "open": ("x = open('/etc/passwd').read()", undefined("open")),
    "help": ("help()", undefined("help")),
    "print_to_a_file": ("print('x', file=None)",
                        Refusal(1, "TypeError", "print() takes only 'sep' and 'end' in scripts, not 'file'")),
    # the module wrappers: hooks, internals, contexts
    "json_object_hook": ("import json\nx = json.loads('{}', object_hook=log)",
                         Refusal(2, "TypeError", "loads() got an unexpected keyword argument 'object_hook'")),
    "json_encoder_class": ("import json\nx = json.dumps({}, cls=None)",
                           Refusal(2, "TypeError", "dumps() got an unexpected keyword argument 'cls'")),
    "re_scanner": ("import re\nx = re.compile('a').scanner", unreadable(2, "scanner", "re.Pattern")),
    "re_match_pattern": ("import re\nx = re.match('a', 'a').re", unreadable(2, "re", "re.Match")),
    "re_flag_enum": ("import re\nx = re.I.name", unreadable(2, "name", "int")),
    "decimal_getcontext": ("import decimal\nx = decimal.getcontext()",
                           Refusal(2, "AccessDenied", f"module 'decimal' has no 'getcontext' for scripts; it has "
                                                      f"{DECIMAL_MEMBERS}")),
    "decimal_as_tuple": ("from decimal import Decimal\nx = Decimal('1').as_tuple()",
                         unreadable(2, "as_tuple", "Decimal")),
    "datetime_timetuple": ("from datetime import datetime\nx = datetime.now().timetuple()",
                           unreadable(2, "timetuple", "datetime")),
    # changing what other runs share: modules, classes, the API
    "module_write": ("import json\njson.dumps = log", unwritable(2, "attribute 'dumps'", "module 'json'")),
    "module_item_write": ("import math\nmath['pi'] = 3", unwritable(2, "items", "module 'math'")),
    "class_write": ("from datetime import date\ndate.today = None", unwritable(2, "attribute 'today'", "class 'date'")),
    "scripterror_write": ("ScriptError.code = 'x'", unwritable(1, "attribute 'code'", "class 'ScriptError'")),
    "api_write": ("query.cache = {}", unwritable(1, "attribute 'cache'", "method")),
    # a refusal is not the script's to catch
    "refusal_caught": ("import math\ntry:\n    math.pi = 3\nexcept Exception:\n    pass",
                       unwritable(3, "attribute 'pi'", "module 'math'")),
    # a script cannot pass its error off as a limit, or as a validation failure
    "spoofed_limit": ("raise ScriptError('fake', code='sandbox.limit.cpu_time')", Refusal(1, "ScriptError", "fake")),
    "spoofed_validation": ("raise ScriptError('fake', code='records.validation_failed')",
                           Refusal(1, "ScriptError", "fake")),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"runtime-{n}") for n in RUNTIME_ESCAPES])
def test_an_escape_attempt_is_refused_while_the_script_runs(deployment: Deployment, name: str) -> None:
    d = deployment
    code, refused = RUNTIME_ESCAPES[name]
    arm(d, trigger(name, code), endpoint(name, marked(name, code)))
    pids = d.pool().worker_pids()
    for key, line, call in ((f"probe.{name}", refused.line,
                             lambda: d.admin.client.post("/api/v1/records/probe", json={"name": name})),
                            (name, refused.line + 1, lambda: d.admin.client.get(f"/api/v1/custom/{name}")),
                            (name, refused.line + 1, lambda: d.admin.client.post(f"/api/v1/custom/{name}"))):
        # (a) the exact refusal, at the script's line
        message = refused.message if refused.error_type == "ScriptError" else f"{refused.error_type}: {refused.message}"
        detail = f"script '{key}', line {line}: {message}"
        body = problem(call(), 422, "sandbox.script_error", detail)
        assert (body["script"], body["line"], body["error_type"]) == (key, line, refused.error_type)
        # (d) the runs log kept the failed run
        run = last_run(d, key)
        assert (run["outcome"], run["error_code"], run["line"], run["error"]) == (
            "error", "sandbox.script_error", line, detail)
    # (b) nothing was written: not the record the trigger guarded, not the endpoint's marker
    assert name not in names(d.acme, "probe") and name not in names(d.acme, "mark")
    # (c) a refusal costs no worker
    assert_healthy(d, pids, replaced=False)


#: a ``finally`` block that raises something else hides the error on its way out from the
#: ``except`` that catches it — unless that ``except`` looks down the chain of errors Python
#: links behind it (``__context__``), however long the script makes that chain
SWALLOWED = {  # name: code, and the line of the refusal in it
    "finally_raises": ("""
import math
def sneak():
    try:
        math.pi = 3
    finally:
        raise ValueError('hide it')
try:
    sneak()
except ValueError:
    pass
record['note'] = f"went on; pi is {math.pi:.5f}"
""", 5),
    "long_error_chain": ("""
import math
def bury(depth):
    if depth == 0:
        raise ValueError('bottom')
    try:
        bury(depth - 1)
    finally:
        raise ValueError(depth)
def sneak():
    try:
        math.pi = 3
    finally:
        bury(120)
try:
    sneak()
except ValueError:
    pass
record['note'] = f"went on; pi is {math.pi:.5f}"
""", 12),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"runtime-{n}") for n in SWALLOWED])
def test_a_refusal_cannot_be_swallowed_by_a_finally_block(deployment: Deployment, name: str) -> None:
    d = deployment
    code, line = SWALLOWED[name]
    arm(d, trigger(name, code))
    detail = (f"script 'probe.{name}', line {line}: AccessDenied: cannot set attribute 'pi' of module 'math': "
              f"{OWN_ITEMS}")
    answer = d.admin.client.post("/api/v1/records/probe", json={"name": name})
    assert "went on" not in answer.text  # were it swallowed, the note would say so (and pi would still be pi)
    problem(answer, 422, "sandbox.script_error", detail)
    assert name not in names(d.acme, "probe")
    assert last_run(d, f"probe.{name}")["error"] == detail


@pytest.mark.parametrize("status", ["302", "401", "500", "True", "'200'"])
def test_an_endpoint_answers_only_with_a_success_status(deployment: Deployment, status: str) -> None:
    """No redirects, no authentication challenges, no fake server errors: the platform owns those."""
    d = deployment
    arm(d, endpoint("answer", marked("answer", f"respond({{'ok': True}}, status={status})")))
    detail = (f"script 'answer', line 2: respond(body, status): status must be a whole number from 200 to 299, "
              f"got {status}")
    problem(d.admin.client.post("/api/v1/custom/answer"), 422, "sandbox.script_error", detail)
    assert "answer" not in names(d.acme, "mark")


# -- resource abuse -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Runaway:
    """Abusive code and how it must stop: the error code, and whether the worker was killed."""

    code: str
    error: str
    killed: bool = False
    kind: str = "before_save"
    #: for script errors: the error type, and a part of the message
    reason: tuple[str, str] | None = None
    #: another limit the run may reach first, depending on the machine's speed
    or_error: str | None = None


CPU, MEMORY_LIMIT = "sandbox.limit.cpu_time", "sandbox.limit.memory"
SCRIPT_ERROR = "sandbox.script_error"
TOO_DEEP = "too deep: recursion passed the sandbox's limit of about 300 calls"
REGEX = ("regular expression '(a|aa)+$' took longer than 0.5 s on a 41-character text; simplify it (nested "
         "repetition such as '(a|aa)+' backtracks without end)")
DEEP_TUPLE = "t = ()\nfor i in range(1000000):\n    t = (t,)\n"

RUNAWAYS: dict[str, Runaway] = {
    "endless_loop": Runaway("while True:\n    pass", CPU, killed=True),
    "endless_counting": Runaway("n = 0\nwhile True:\n    n += 1", CPU, killed=True),
    "huge_string": Runaway("x = 'x' * 10 ** 10", MEMORY_LIMIT, killed=True),
    "huge_list": Runaway("x = [0] * 10 ** 9", MEMORY_LIMIT, killed=True),
    "growing_list": Runaway("x = []\nwhile True:\n    x.append('y' * 1000)", CPU, killed=True),
    "huge_padding": Runaway("x = f'{1:>99999999999}'", MEMORY_LIMIT, killed=True),
    "huge_power": Runaway("x = 10 ** 10 ** 8", CPU, killed=True),
    "huge_pow": Runaway("x = pow(2, 10 ** 9)", CPU, killed=True, or_error=MEMORY_LIMIT),  # 125 MB when done
    "huge_integer_text": Runaway("x = str(10 ** 5000)", SCRIPT_ERROR, reason=(
        "ValueError", "Exceeds the limit (4300 digits) for integer string conversion")),
    "deep_recursion": Runaway("def down(n):\n    return down(n + 1)\ndown(0)", SCRIPT_ERROR,
                              reason=("RecursionError", TOO_DEEP)),
    "deep_recursion_caught": Runaway("def down(n):\n    return down(n + 1)\ntry:\n    down(0)\nexcept Exception:\n"
                                     "    pass\nrecord['note'] = 'survived'", SCRIPT_ERROR,
                                     reason=("RecursionError", TOO_DEEP)),
    "deep_repr": Runaway("x = []\nfor i in range(100000):\n    x = [x]\ns = repr(x)", SCRIPT_ERROR,
                         reason=("RecursionError", TOO_DEEP)),
    "deep_json": Runaway("import json\nx = json.loads('[' * 100000 + ']' * 100000)", SCRIPT_ERROR,
                         reason=("RecursionError", TOO_DEEP)),
    "deep_value_sent": Runaway("x = []\nfor i in range(1000):\n    x = [x]\nrecord['note'] = x", SCRIPT_ERROR,
                               reason=("ScriptError", "record['note']: the value nests more than 32 levels deep")),
    # hashing a million-deep tuple overflows the C stack: the interpreter itself crashes
    "interpreter_crash": Runaway(DEEP_TUPLE + "seen = {t: 1}", "sandbox.worker_crashed", killed=True),
    "catastrophic_regex": Runaway("import re\nx = re.match('(a|aa)+$', 'a' * 40 + 'b')", SCRIPT_ERROR,
                                  reason=("TimeoutError", REGEX)),
    "catastrophic_regex_split": Runaway("import re\nx = re.split('(a|aa)+$', 'a' * 40 + 'b')", SCRIPT_ERROR,
                                        reason=("TimeoutError", REGEX)),
    "regex_timeouts_caught": Runaway("import re\nwhile True:\n    try:\n        re.match('(a|aa)+$', 'a' * 40 + 'b')\n"
                                     "    except TimeoutError:\n        pass", CPU, killed=True),
    "log_flood": Runaway("while True:\n    log('x' * 1000)", "sandbox.limit.output"),
    "print_flood": Runaway("while True:\n    print('x' * 1000)", "sandbox.limit.output"),
    "log_flood_caught": Runaway("for i in range(100):\n    try:\n        log('x' * 1000)\n    except Exception:\n"
                                "        pass\nrecord['note'] = 'got away'", "sandbox.limit.output"),
    "many_queries": Runaway("for i in range(1000):\n    get('probe', 'none')", "sandbox.limit.queries"),
    "many_rows": Runaway("rows = query('item')", "sandbox.limit.rows"),
    "many_writes": Runaway("for i in range(100):\n    create('mark', {'name': 'many_writes'})",
                           "sandbox.limit.dml_rows"),
    "limit_caught": Runaway("for i in range(30):\n    try:\n        get('probe', 'none')\n    except Exception:\n"
                            "        pass\nrecord['note'] = 'got away'", "sandbox.limit.queries"),
    "limit_swallowed_by_finally": Runaway("def sneak():\n    try:\n        for i in range(30):\n"
                                          "            get('probe', 'none')\n    finally:\n"
                                          "        raise ValueError('hide it')\ntry:\n    sneak()\n"
                                          "except ValueError:\n    pass\nrecord['note'] = 'got away'",
                                          "sandbox.limit.queries"),
    "own_record_update": Runaway("update('probe', record['id'], {'n': (record['n'] or 0) + 1})",
                                 "sandbox.limit.depth", kind="after_save"),
    # a chain of triggers, each level under the limit on its own: the levels share one budget
    "nested_cpu": Runaway("started = now()\nwhile (now() - started).total_seconds() < 0.45:\n    pass\n"
                          "if (record['n'] or 0) < 4:\n"
                          "    create('probe', {'name': 'nested_cpu', 'n': (record['n'] or 0) + 1})",
                          CPU, killed=True, kind="after_save"),
    "nested_output": Runaway("log('x' * 1500)\nif (record['n'] or 0) < 3:\n"
                             "    create('probe', {'name': 'nested_output', 'n': (record['n'] or 0) + 1})",
                             "sandbox.limit.output", kind="after_save"),
    "huge_result": Runaway("record['note'] = 'x' * 20_000_000", SCRIPT_ERROR, reason=(
        "FrameTooLarge", "the script's result cannot be sent to the host: ")),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"abuse-{n}") for n in RUNAWAYS])
def test_resource_abuse_stops_within_its_limit(deployment: Deployment, name: str) -> None:
    d = deployment
    runaway = RUNAWAYS[name]
    arm(d, trigger(name, runaway.code, runaway.kind))
    pids = d.pool().worker_pids()
    answer, took = timed(lambda: d.admin.client.post("/api/v1/records/probe", json={"name": name}))
    # (a) it stopped with its limit's code, within a bounded time
    error = answer.json().get("code")
    assert error in (runaway.error, runaway.or_error or runaway.error), answer.text
    body = problem(answer, 422, error)
    key = f"probe.{name}"
    assert body["script"] == key
    if error.startswith("sandbox.limit."):
        assert body["setting"] == error
        assert body["detail"].startswith(f"script '{key}': scripts reached the limit {error} of ")
    if runaway.reason is not None:
        error_type, message = runaway.reason
        assert body["error_type"] == error_type
        assert message in body["detail"], body["detail"]
    limit_s = SETTINGS["sandbox_limit_cpu_time"] / 1000 if error == CPU else 0
    assert took < limit_s + GRACE_S, f"{name} took {took:.1f} s"
    # (b) nothing was written
    assert name not in names(d.acme, "probe") and name not in names(d.acme, "mark")
    # (c) the pool keeps serving: a killed worker was replaced (a worker that merely grew
    # large may have been recycled too, so only a kill is asserted)
    assert_healthy(d, pids if runaway.killed else d.pool().worker_pids(), replaced=runaway.killed)
    # (d) the runs log kept the run, with how it ended
    run = last_run(d, key)
    outcome = "limit" if error.startswith("sandbox.limit.") else "error"
    assert (run["outcome"], run["error_code"]) == (outcome, error)


def test_a_regex_that_backtracks_in_other_engines_is_harmless(deployment: Deployment) -> None:
    """``(a+)+$`` is the textbook catastrophic pattern; the ``regex`` engine behind ``re``
    answers it at once (``(a|aa)+$``, which it cannot, stops with a timeout above)."""
    d = deployment
    arm(d, trigger("nested_plus", "import re\nrecord['note'] = str(re.match('(a+)+$', 'a' * 40 + 'b'))"))
    created, took = timed(lambda: d.admin.client.post("/api/v1/records/probe", json={"name": "nested plus"}))
    assert created.status_code == 201, created.text
    assert created.json()["note"] == "None" and took < 2


def test_a_filter_too_big_for_the_database_is_no_server_error(deployment: Deployment) -> None:
    """The query engine takes 200 conditions of 1,000 values each; 66,000 values are more bind
    parameters than PostgreSQL takes (65,535). From a script that must not be an unhandled
    host error (a 500, and the whole statement written to the server's error log: about
    1.7 MB per request, past every output limit): the query runs, or is refused cleanly."""
    d = deployment
    arm(d, endpoint("wide", "values = [str(i) for i in range(1000)]\n"
                            "wide = {'and': [{'field': 'name', 'op': 'in', 'value': values} for i in range(66)]}\n"
                            "try:\n    respond({'rows': len(query('probe', filter=wide))})\n"
                            "except ScriptError as error:\n    respond({'refused': error.code})"))
    client = TestClient(d.acme.app, headers={"Authorization": f"Bearer {d.admin.key}"}, raise_server_exceptions=False)
    answer = client.get("/api/v1/custom/wide")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"refused": "query.bad_filter"}  # too complex: 10,000 values in all at most
    assert_healthy(d, d.pool().worker_pids(), replaced=False)


def test_a_run_past_its_wall_time_is_stopped(request: pytest.FixtureRequest, deployment: Deployment,
                                             tmp_path: Path) -> None:
    """Data calls take the host's time, not the worker's CPU: the wall time limit stops them."""
    loop = trigger("waiting", "while True:\n    get('probe', 'none')")
    with served_org(request, deployment.backend, tmp_path / "wall", bundle(loop), sandbox_workers=1,
                    sandbox_limit_wall_time=300, sandbox_limit_queries=1_000_000,
                    sandbox_limit_cpu_time=60_000) as acme:
        admin = acme.user("admin")
        answer, took = timed(lambda: admin.client.post("/api/v1/records/probe", json={"name": "waiting"}))
        body = problem(answer, 422, "sandbox.limit.wall_time")
        assert body["script"] == "probe.waiting" and took < 0.3 + GRACE_S
        assert names(acme, "probe") == []
        run = admin.client.get("/api/v1/scripts/runs", params={"limit": 1}).json()["runs"][0]
        assert (run["script"], run["outcome"], run["error_code"]) == ("probe.waiting", "limit",
                                                                     "sandbox.limit.wall_time")
        started = time.monotonic()
        assert admin.client.get("/api/v1/custom/ping").json() == {"pong": True}
        assert time.monotonic() - started < RECOVERY_S


# -- org isolation ---------------------------------------------------------------------------------

SPY = r"""
target = request['body']
seen = {
    'all': sorted(r['name'] for r in query('probe')),
    'by_id': [get('probe', i) for i in target['ids']],
    'id_in': query('probe', filter={'field': 'id', 'op': 'in', 'value': target['ids']}),
    'by_name': query('probe', filter={'field': 'name', 'op': 'in', 'value': target['names']}),
    'items': sorted(r['name'] for r in query('item', filter={'field': 'name', 'op': 'starts_with', 'value': 'b'})),
}
refused = {}
def attempt(label, call):
    try:
        refused[label] = ['DONE', call()]
    except ScriptError as error:
        refused[label] = error.code
first = target['ids'][0]
attempt('update', lambda: update('probe', first, {'note': 'pwned'}))
attempt('update nobody', lambda: update('probe', target['nobody'], {'note': 'pwned'}))
attempt('delete', lambda: delete('probe', first))
attempt('link', lambda: create('item', {'name': 'link', 'probe': first}))
attempt('vault', lambda: query('vault'))
attempt('vault by id', lambda: get('vault', target['vault']))
for name in target['object_names']:
    attempt(name, lambda: query(name))
attempt('filter', lambda: query('probe', filter={'field': "name' OR '1'='1", 'op': 'eq', 'value': 'x'}))
respond({'seen': seen, 'refused': refused})
"""


@pytest.fixture
def secrets(deployment: Deployment) -> dict[str, Any]:
    """Globex's records (and what acme's scripts are told of them: ids, names, storage names)."""
    d = deployment
    arm(d, globex=True)
    tag = uuid.uuid4().hex[:6]
    records = d.globex.runtime.records()
    probes = records.create_many("probe", [{"name": f"b-{tag}-{n}", "note": "globex only"} for n in range(3)])
    records.create_many("item", [{"name": f"b-{tag}-item", "probe": probes[0]["id"]}])
    vault = records.create("vault", {"name": f"b-{tag}-vault"})
    org = d.rapport.orgs.get(d.globex.name)
    schema = d.rapport.db.org_schema_name(d.globex.name) or "main"
    object_names = [f"{schema}.probe", f"org_{d.globex.name}.probe", f"{d.globex.name}.probe",
                    f"../{d.globex.name}-{org.id}/probe", f"{org.id}:probe", "probe; drop table probe"]
    return {"ids": [p["id"] for p in probes], "names": [p["name"] for p in probes], "vault": vault["id"],
            "nobody": str(uuid.uuid4()), "object_names": list(dict.fromkeys(object_names)),
            "records": {p["id"]: p for p in probes}}


@pytest.mark.parametrize("run_as", ["user", "system"])
def test_a_script_of_one_org_never_reads_or_changes_another_orgs_records(
        deployment: Deployment, secrets: dict[str, Any], run_as: str) -> None:
    d = deployment
    arm(d, endpoint("spy", SPY, run_as=run_as))
    acme_probes = names(d.acme, "probe")
    target = {key: secrets[key] for key in ("ids", "names", "vault", "nobody", "object_names")}
    answer = d.admin.client.post("/api/v1/custom/spy", json=target)
    assert answer.status_code == 200, answer.text
    seen, refused = answer.json()["seen"], answer.json()["refused"]
    # it sees its own org's records only: globex's ids, names and objects are not there
    assert seen == {"all": acme_probes, "by_id": [None, None, None], "id_in": [], "by_name": [], "items": []}
    # refused as if the ids were nobody's (no way to tell another org's ids from noise) and
    # the objects did not exist
    assert refused == {"update": "records.not_found", "update nobody": "records.not_found",
                       "delete": "records.not_found", "link": "records.validation_failed",
                       "vault": "records.unknown_object", "vault by id": "records.unknown_object",
                       "filter": "query.bad_filter",
                       **{name: "records.unknown_object" for name in target["object_names"]}}
    # globex's records are untouched; acme got no link to them
    for record_id, before in secrets["records"].items():
        after = d.globex.runtime.records().get("probe", record_id)
        assert (after["note"], after["version"]) == (before["note"], before["version"])
    assert "link" not in names(d.acme, "item")


def test_a_nested_trigger_of_one_org_never_reaches_another_orgs_records(
        deployment: Deployment, secrets: dict[str, Any]) -> None:
    d = deployment
    watch = trigger("watch", "found = [get('probe', i) for i in record['note'].split(',')]\n"
                             "create('mark', {'name': 'nested saw ' + str(found)})", kind="after_save")
    arm(d, watch, endpoint("plant", "create('probe', {'name': 'planted', 'note': request['body']['ids']})\n"
                                    "respond(len(query('mark', filter={'field': 'name', 'op': 'starts_with', "
                                    "'value': 'nested saw'})))"))
    answer = d.admin.client.post("/api/v1/custom/plant", json={"ids": ",".join(secrets["ids"])})
    assert (answer.status_code, answer.json()) == (200, 1), answer.text
    assert "nested saw [None, None, None]" in names(d.acme, "mark")
    assert last_run(d, "probe.watch")["depth"] == 1


def test_a_user_cannot_raise_a_scripts_permissions_by_editing_what_it_sees(deployment: Deployment) -> None:
    """``user`` and ``org`` are the script's copies: the host serves calls as who called."""
    d = deployment
    arm(d, endpoint("escalate", "user['profile'] = 'admin'\nuser['id'] = request['body']['admin']\n"
                                "org['name'] = request['body']['org']\nrespond(len(query('ledger')))"))
    detail = ("script 'escalate', line 4: query(): you may not read records of object 'ledger': your profile and "
              "permission sets do not grant 'read' on it")
    problem(d.rep.client.post("/api/v1/custom/escalate", json={"admin": d.admin.id, "org": d.globex.name}), 422,
            "sandbox.script_error", detail)
    assert d.admin.client.post("/api/v1/custom/escalate", json={"admin": d.admin.id, "org": d.globex.name}).json() == 0


def test_an_action_cannot_run_on_another_orgs_record(deployment: Deployment, secrets: dict[str, Any]) -> None:
    d = deployment
    arm(d, {"name": "touch", "object": "probe", "kind": "action", "code": "update('probe', record['id'], "
                                                                          "{'note': 'touched'})"})
    problem(d.admin.client.post(f"/api/v1/records/probe/{secrets['ids'][0]}/actions/touch", json={}), 404,
            "records.not_found")
    assert d.globex.runtime.records().get("probe", secrets["ids"][0])["note"] == "globex only"
    assert d.admin.client.get("/api/v1/scripts/runs", params={"script": "probe.touch"}).json()["runs"] == []


def test_only_a_metadata_admin_can_install_a_script(deployment: Deployment) -> None:
    """Code that runs as the system is installed by an admin, never by a user who would like to read more."""
    d = deployment
    arm(d)
    planted = bundle(endpoint("backdoor", "respond(query('ledger'))", run_as="system"))
    for path, body in (("/api/v1/metadata/apply", {"bundle": planted}), ("/api/v1/metadata/plan", planted)):
        problem(d.rep.client.post(path, json=body), 403, "permissions.system_permission")
    problem(d.rep.client.get("/api/v1/custom/backdoor"), 404, "sandbox.script_not_found")


ECHO = """
import math, json, re
from decimal import Decimal
from datetime import date
leftovers = []
for check in (lambda: stash, lambda: secret_rows, lambda: helper):
    try:
        check()
        leftovers.append('found')
    except Exception:  # NameError: the name is not defined in this run
        pass
respond({'org': org['name'], 'user': user['name'], 'probes': sorted(r['name'] for r in query('probe')),
         'pi': math.pi, 'json': json.dumps({'b': [1, 2]}), 're': re.sub('a', 'o', 'banana'),
         'third': str(Decimal(1) / Decimal(3)), 'date': date(2024, 2, 29).isoformat(),
         'error': ScriptError('x').code, 'leftovers': leftovers})
"""

#: what one org's scripts try, to leave something behind in the worker for the next org
LEAVE_BEHIND = {
    "stash": ("stash = query('probe')\nsecret_rows = [r['name'] for r in stash]\ndef helper():\n    return stash\n"
              "respond(len(stash))", 200),
    "poison_math": ("import math\nmath.pi = 3", 422),
    "poison_json": ("import json\njson.dumps = lambda *a, **k: 'pwned'", 422),
    "poison_re": ("import re\nre.sub = None", 422),
    "poison_decimal": ("from decimal import Decimal\nDecimal.quantize = None", 422),
    "poison_error": ("ScriptError.code = 'pwned'", 422),
    "poison_module_items": ("import math\nmath['pi'] = 3", 422),
    "decimal_flags": ("from decimal import Decimal\nrespond(str(Decimal(1) / Decimal(7)))", 200),
    "regex_cache": ("import re\nrespond(len(re.findall('[a-z]+', ' '.join(r['name'] for r in query('probe')))))",
                    200),
}


def test_a_worker_used_by_one_org_serves_the_next_with_nothing_left_over(deployment: Deployment) -> None:
    """Both orgs have an endpoint ``echo`` of the same name and source (the worker's compiled
    code is cached by source); the one worker runs acme's scripts between two of globex's."""
    d = deployment
    arm(d, endpoint("echo", ECHO), *(endpoint(name, code) for name, (code, _) in LEAVE_BEHIND.items()))
    arm(d, endpoint("echo", ECHO), globex=True)
    d.acme.runtime.records().create("probe", {"name": "acme secret"})
    pids = d.pool().worker_pids()
    before = d.globex_admin.client.get("/api/v1/custom/echo").json()
    assert before["org"] == d.globex.name and "acme secret" not in before["probes"] and before["leftovers"] == []
    for name, (_, status) in LEAVE_BEHIND.items():
        answer = d.admin.client.get(f"/api/v1/custom/{name}")
        assert answer.status_code == status, (name, answer.text)
    mine = d.admin.client.get("/api/v1/custom/echo").json()
    assert mine["org"] == d.acme.name and "acme secret" in mine["probes"]
    after = d.globex_admin.client.get("/api/v1/custom/echo").json()
    assert after == before
    assert d.pool().worker_pids() == pids  # one worker served both orgs throughout


def test_an_orgs_runs_log_shows_only_its_own_runs(deployment: Deployment) -> None:
    d = deployment
    arm(d, endpoint("chatty", "log('acme private note')"))
    arm(d, endpoint("quiet", "respond(1)"), globex=True)
    assert d.admin.client.post("/api/v1/custom/chatty").status_code == 204
    assert d.globex_admin.client.get("/api/v1/custom/quiet").status_code == 200
    theirs = d.globex_admin.client.get("/api/v1/scripts/runs", params={"limit": 200}).json()["runs"]
    assert theirs and {r["script"] for r in theirs} <= {"quiet", "echo"}  # globex's scripts, nothing of acme's
    assert all("acme" not in (r["log"] or "") for r in theirs)
    assert last_run(d, "chatty")["log"] == "acme private note"
    problem(d.globex_admin.client.get("/api/v1/custom/chatty"), 404, "sandbox.script_not_found")
