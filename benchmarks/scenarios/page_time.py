"""(i) The server time of two generated pages over 100,000 records.

An org of the demo's sales bundle plus a third child of account, ``case``, and an account
layout with three related lists (contacts, deals, cases) holds ``scale.bulk_records`` deals
over ``scale.accounts`` accounts and a tenth as many contacts and cases (loaded untimed;
every account has children of each kind). An admin signs in through the login form, as a
browser does, and the app ``create_app`` builds answers in-process through httpx's ASGI
transport on one event loop: a request's time is the app's whole answer (session check,
page handler in a worker thread, queries, template) plus the transport's small hand-off,
which the ``GET /login`` row shows (a page without data).

Measured: the deals list page ``GET /o/deal`` (its first page, and pages 2 to 21 reached by
following each page's own "next" link, untimed), and the record page ``GET /o/account/{id}``
of varied accounts. Every answer is checked before timing: status 200; 50 deals linked to
their record pages, with their accounts' names linked to the accounts; on the record page, a
heading for each of the three related lists and 1 to 5 records in each. Then 20 warm-up
rounds and 200 measured rounds in which the requests take turns, so background noise weighs
on all alike. The deals' list view ("Open deals") sorts by ``close_date``, which the demo
bundle indexes: without that index every list page sorts all the open deals (about 45 ms on
SQLite and 55 ms on PostgreSQL here, measured before the bundle indexed it).

With ``--profile`` the page handlers run on the event loop's thread so that cProfile sees
them, and each page's SQL statements are listed with their times (stderr).
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from itertools import cycle, islice
from typing import Any, ParamSpec, TypeVar

import httpx
import sqlalchemy as sa

from benchmarks.data import (
    FIRST_CLOSE_DATE, create_accounts, deal_rows, new_org, refresh_statistics, sales_bundle,
)
from benchmarks.harness import Bench, Result, Target, median_ms, p95_ms
from rapport.platform.web import create_app
from rapport.platform.web import pages as pages_host
from rapport.runtime.org import OrgRuntime

P = ParamSpec("P")
T = TypeVar("T")
TITLE = "(i) page time"
ORG = "pages"
USERNAME = "bench-admin@pages.test"
PASSWORD = "benchmark pages password"
TARGET = Target("<", 30, " ms")
PAGE_ROWS = 50
#: the list pages reached by cursor: pages 2 to 1 + LATER_PAGES
LATER_PAGES = 20
#: contacts and cases: one of each per this many deals
CHILD_SHARE = 10
RELATED = ("contact", "deal", "case")
#: the most records a related list shows on a record page
RELATED_ROWS = 5
CASE_STATUSES = ("new", "working", "waiting", "closed")
CASE_PRIORITIES = ("low", "medium", "high")
LIST_PATH = "/o/deal"
FLOOR_PATH = "/login"
#: the accounts whose record pages are measured, in turn
RECORD_PAGES = 200
#: with --profile: requests per page whose SQL statements are timed
STATEMENT_RUNS = 10
_RECORD_LINK = r'href="/o/{object}/([0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})"'
_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.S)
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"<a\b([^>]*)>")
_HREF = re.compile(r'\bhref="([^"]*)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def run(bench: Bench) -> list[Result]:
    org, accounts = _filled_org(bench)
    bench.app.create_user(ORG, USERNAME, name="Benchmark Admin", profile="admin", password=PASSWORD)
    with _browser(bench) as browser:
        browser.log_in(USERNAME, PASSWORD)
        requests = _checked_requests(browser, org, accounts, bench.rng)
        return _measured_rows(bench, browser, requests)


def _measured_rows(bench: Bench, browser: Browser, requests: list[Measured]) -> list[Result]:
    with _inline_handlers(bench.profiler is not None):
        samples = _measure(bench, browser, requests)
        if bench.profiler is not None:
            _log_statements(browser, requests)
    return [_row(bench, request, samples[request.label]) for request in requests]


# -- the browser ----------------------------------------------------------------------------------

class Browser:
    """The app driven in-process through httpx's ASGI transport on one event loop; it keeps
    the cookies it is sent, as a browser does."""

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    def get(self, path: str) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(path))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(path, data=data))

    def log_in(self, username: str, password: str) -> None:
        """Sign in through the login form (its CSRF token), keeping the session cookie."""
        form = self.get("/login?next=/")
        found = _CSRF.search(form.text)
        if found is None:
            raise RuntimeError("the login page has no CSRF token")
        answer = self.post("/login", {"username": username, "password": password,
                                      "csrf_token": found.group(1), "next": "/"})
        if answer.status_code != 303:
            raise RuntimeError(f"logging in answered {answer.status_code}: {answer.text[:500]}")

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@contextmanager
def _browser(bench: Bench) -> Iterator[Browser]:
    browser = Browser(create_app(bench.app))
    try:
        yield browser
    finally:
        browser.close()


# -- the requests, and what their answers must show -----------------------------------------------

@dataclass(frozen=True)
class Measured:
    """A page measured over ``paths`` (taken in turn), with its row's label and target."""

    label: str
    paths: tuple[str, ...]
    target: Target | None
    #: a page of the deals list (measured again once the view's sort field is indexed)
    lists_deals: bool = False


def _checked_requests(browser: Browser, org: OrgRuntime, accounts: list[str],
                      rng: random.Random) -> list[Measured]:
    first = browser.get(LIST_PATH)
    _check_list_page(LIST_PATH, first)
    later = _later_pages(browser, first.text)
    labels = {name: org.model().objects[name].defn.plural_label for name in RELATED}
    sampled = rng.sample(accounts, min(RECORD_PAGES, len(accounts)))
    account_paths = tuple(f"/o/account/{account}" for account in sampled)
    shown = [_check_record_page(path, browser.get(path), labels) for path in account_paths]
    _expect_ok(FLOOR_PATH, browser.get(FLOOR_PATH))
    most = ", ".join(f"{max(s[name] for s in shown)} {labels[name].lower()}" for name in RELATED)
    return [
        Measured(f"list page GET {LIST_PATH}: first page, {PAGE_ROWS} rows incl. account.name",
                 (LIST_PATH,), TARGET, lists_deals=True),
        Measured(f"list page GET {LIST_PATH}: pages 2–{LATER_PAGES + 1} by cursor", later, TARGET,
                 lists_deals=True),
        Measured(f"record page GET /o/account/{{id}}: {len(RELATED)} related lists (up to {most}), "
                 f"{len(account_paths):,} accounts in turn", account_paths, TARGET),
        Measured(f"GET {FLOOR_PATH}: a page without data (host + transport)", (FLOOR_PATH,), None),
    ]


def _check_list_page(path: str, answer: httpx.Response) -> set[str]:
    """The ids of the deals the page shows: 50, each with its account's name linked to the account."""
    _expect_ok(path, answer)
    deals = set(re.findall(_RECORD_LINK.format(object="deal"), answer.text))
    if len(deals) != PAGE_ROWS:
        raise RuntimeError(f"{path} links {len(deals)} deals, not {PAGE_ROWS}")
    account_names = re.findall(_RECORD_LINK.format(object="account") + r"[^>]*>\s*(Account \d{5})\s*<",
                               answer.text)
    if len(account_names) < PAGE_ROWS:
        raise RuntimeError(f"{path} shows {len(account_names)} account names linked to their accounts, "
                           f"not one per deal (the account.name column)")
    return deals


def _later_pages(browser: Browser, first_page: str) -> tuple[str, ...]:
    """The paths of list pages 2 to 1 + LATER_PAGES, each found as the previous page's "next" link."""
    paths: list[str] = []
    seen = set(re.findall(_RECORD_LINK.format(object="deal"), first_page))
    text = first_page
    for number in range(2, LATER_PAGES + 2):
        path = _next_link(text)
        if path is None:
            raise RuntimeError(f"list page {number - 1} of {LIST_PATH} has no link to the next page (rel=next)")
        answer = browser.get(path)
        deals = _check_list_page(path, answer)
        if deals & seen:
            raise RuntimeError(f"list page {number} ({path}) repeats deals of earlier pages")
        seen |= deals
        paths.append(path)
        text = answer.text
    return tuple(paths)


def _next_link(page: str) -> str | None:
    """The address of the page's link with ``rel="next"``."""
    for attributes in _LINK.findall(page):
        href = _HREF.search(attributes)
        if 'rel="next"' in attributes and href is not None:
            return html.unescape(href.group(1))
    return None


def _check_record_page(path: str, answer: httpx.Response, labels: dict[str, str]) -> dict[str, int]:
    """How many records each related list shows: each list headed, with 1 to 5 records."""
    _expect_ok(path, answer)
    headings = [" ".join(html.unescape(_TAG.sub("", h)).split()) for h in _HEADING.findall(answer.text)]
    shown: dict[str, int] = {}
    for name in RELATED:
        if not any(labels[name] in heading for heading in headings):
            raise RuntimeError(f"{path} has no heading for its related list of {labels[name]} "
                               f"(its headings: {headings})")
        shown[name] = len(set(re.findall(_RECORD_LINK.format(object=name), answer.text)))
        if not 1 <= shown[name] <= RELATED_ROWS:
            raise RuntimeError(f"{path} links {shown[name]} {labels[name]}, not 1 to {RELATED_ROWS}")
    return shown


def _expect_ok(path: str, answer: httpx.Response) -> None:
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:500]}")


# -- measuring ------------------------------------------------------------------------------------

def _measure(bench: Bench, browser: Browser, requests: list[Measured]) -> dict[str, list[float]]:
    paths = {request.label: cycle(request.paths) for request in requests}
    for _ in range(bench.scale.query_warmup):
        for request in requests:
            path = next(paths[request.label])
            _expect_ok(path, browser.get(path))
    samples: dict[str, list[float]] = {request.label: [] for request in requests}
    for _ in range(bench.scale.query_runs):
        for request in requests:
            path = next(paths[request.label])
            seconds, answer = bench.timed_value(partial(browser.get, path))
            _expect_ok(path, answer)
            samples[request.label].append(seconds)
    return samples


def _row(bench: Bench, request: Measured, samples: list[float]) -> Result:
    figure = f"median {median_ms(samples):.2f} ms, p95 {p95_ms(samples):.2f} ms ({len(samples)} requests)"
    return bench.result(TITLE, request.label, figure, median_ms(samples), request.target)


# -- --profile: where a page's time goes ----------------------------------------------------------

@contextmanager
def _inline_handlers(enabled: bool) -> Iterator[None]:
    """When ``enabled``, the pages' host runs handlers on the event loop's thread (where
    cProfile, enabled around each request, sees them) instead of a worker thread."""
    if not enabled:
        yield
        return
    original = pages_host.run_in_threadpool
    pages_host.run_in_threadpool = _inline  # type: ignore[assignment]  # the same signature, generic
    try:
        yield
    finally:
        pages_host.run_in_threadpool = original


async def _inline(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``function`` right here, as ``run_in_threadpool`` would in a worker thread."""
    return function(*args, **kwargs)


@dataclass
class Statement:
    sql: str
    seconds: float


@contextmanager
def _statements() -> Iterator[list[Statement]]:
    """Every SQL statement any engine runs meanwhile, with the time its ``execute`` takes: all
    of it on PostgreSQL (psycopg receives the whole result), on SQLite until the first row
    (a sort's whole work; rows read in index order are produced while they are fetched)."""
    found: list[Statement] = []
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *__: Any) -> None:
        found.append(Statement(" ".join(statement.split()), time.perf_counter() - started.pop()))
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", after)


def _log_statements(browser: Browser, requests: list[Measured]) -> None:
    """Per page: the median number of statements per request and their time against the
    whole request's, and the statements of the last request with their times."""
    for request in requests:
        runs: list[tuple[float, list[Statement]]] = []
        for path in islice(cycle(request.paths), STATEMENT_RUNS):
            with _statements() as found:
                start = time.perf_counter()
                _expect_ok(path, browser.get(path))
                runs.append((time.perf_counter() - start, found))
        totals = [seconds * 1000 for seconds, _ in runs]
        sql = [sum(s.seconds for s in found) * 1000 for _, found in runs]
        counts = [len(found) for _, found in runs]
        lines = [f"(i) {request.label}: {statistics.median(counts):g} SQL statements per request, executing "
                 f"{statistics.median(sql):.2f} ms of the request's {statistics.median(totals):.2f} ms "
                 f"(medians of {len(runs)} requests; on SQLite until each first row); the last request's:"]
        lines += [f"    {s.seconds * 1000:7.2f} ms  {s.sql[:240]}" for s in runs[-1][1]]
        print("\n".join(lines), file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------------

def _filled_org(bench: Bench) -> tuple[OrgRuntime, list[str]]:
    """The org of this scenario with its records (untimed): deals, contacts and cases."""
    org = new_org(bench, ORG, pages_bundle())
    accounts = create_accounts(org, bench.scale.accounts)
    rng = random.Random(bench.rng.random())
    total, chunk = bench.scale.bulk_records, bench.scale.bulk_chunk
    for start in range(0, total, chunk):
        org.records().create_many("deal", deal_rows(rng, accounts, min(chunk, total - start), first=start))
    children = total // CHILD_SHARE
    for start in range(0, children, chunk):
        numbers = range(start, min(start + chunk, children))
        org.records().create_many("contact", [_contact(n, accounts) for n in numbers])
        org.records().create_many("case", [_case(n, accounts, rng) for n in numbers])
    refresh_statistics(org)
    return org, accounts


def pages_bundle() -> dict[str, Any]:
    """The demo's sales bundle with a third child of account, ``case``, and the account
    layout's related lists: contacts, deals and cases."""
    bundle = sales_bundle()
    bundle["objects"].append(CASE_OBJECT)
    account_layout = next(layout for layout in bundle["layouts"] if layout["object"] == "account")
    account_layout["related_lists"].append(
        {"object": "case", "field": "account", "columns": ["subject", "status", "priority", "opened_on"]})
    if [related["object"] for related in account_layout["related_lists"]] != list(RELATED):
        raise RuntimeError("the sales bundle's account layout no longer lists contacts and deals")
    return bundle


CASE_OBJECT: dict[str, Any] = {
    "name": "case",
    "label": "Case",
    "plural_label": "Cases",
    "name_field": "subject",
    "fields": [
        {"name": "subject", "label": "Subject", "type": "text", "required": True, "max_length": 120},
        {"name": "account", "label": "Account", "type": "lookup", "target": "account",
         "on_delete": "set_null", "relationship_name": "cases"},
        {"name": "status", "label": "Status", "type": "picklist",
         "values": [{"value": v, "label": v.title()} for v in CASE_STATUSES]},
        {"name": "priority", "label": "Priority", "type": "picklist",
         "values": [{"value": v, "label": v.title()} for v in CASE_PRIORITIES]},
        {"name": "opened_on", "label": "Opened on", "type": "date"},
    ],
}


def _contact(number: int, accounts: list[str]) -> dict[str, Any]:
    """Contact ``number``, of account ``number mod len(accounts)`` (so every account has some)."""
    return {"first_name": f"Person {number:06d}", "last_name": f"Contact {number:06d}",
            "email": f"contact{number:06d}@example.com", "account": accounts[number % len(accounts)]}


def _case(number: int, accounts: list[str], rng: random.Random) -> dict[str, Any]:
    return {"subject": f"Case {number:06d}", "account": accounts[number % len(accounts)],
            "status": rng.choice(CASE_STATUSES), "priority": rng.choice(CASE_PRIORITIES),
            "opened_on": FIRST_CLOSE_DATE + timedelta(days=rng.randrange(365))}
