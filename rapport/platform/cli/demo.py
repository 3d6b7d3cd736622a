"""``rapport demo``: an org with the sales metadata and a few hundred sample records."""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
from importlib import resources
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._output import ProgressBar, emit_json
from rapport.platform.cli.serve import add_server_options, serve
from rapport.platform.errors import InvalidRequest
from rapport.runtime.demo.sample_data import seed, split
from rapport.runtime.query import QuerySpec

DEMO_AUTHOR = "demo"


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", parents=common,
                               help="create a demo org with the sales metadata and sample records")
    demo.add_argument("--org", default="demo", metavar="NAME", help="the demo org's name (default: demo)")
    demo.add_argument("--records", type=int, default=300, metavar="N",
                      help="about how many sample records to create (default: 300)")
    demo.add_argument("--reset", action="store_true",
                      help="delete the org first (its data is exported into DATA_DIR/exports)")
    demo.add_argument("--allow-postgres", action="store_true",
                      help="create the demo org even though RAPPORT_DATABASE_URL points at PostgreSQL")
    demo.add_argument("--no-serve", action="store_true", help="create the org and stop (do not serve it)")
    add_server_options(demo)
    demo.set_defaults(handler=run_demo)


def demo_bundle() -> dict[str, Any]:
    """The demo's sales metadata: account, contact and deal, with a layout and a list view."""
    text = (resources.files("rapport.runtime") / "demo" / "bundle.json").read_text(encoding="utf-8")
    bundle: dict[str, Any] = json.loads(text)
    return bundle


def run_demo(ctx: Context) -> int:
    args, settings = ctx.args, ctx.settings
    if not settings.is_embedded_database and not args.allow_postgres:
        raise InvalidRequest(
            "the demo runs on the embedded database, but RAPPORT_DATABASE_URL points at PostgreSQL; "
            "unset it to try Rapport locally, or add --allow-postgres to create the demo org there",
            code="demo.not_embedded")
    split(args.records)  # a bad --records fails before anything is created
    app, name = ctx.app, args.org
    existing = any(org.name == name for org in app.orgs.list())
    if existing and args.reset:
        export = app.delete_org(name, settings.data_dir / "exports")
        _say(ctx, f"deleted org '{name}' (its data was exported to {export})")
        existing = False
    if existing:
        _say(ctx, f"reusing org '{name}' (add --reset to start again)")
    else:
        app.create_org(name)
        _say(ctx, f"created org '{name}'")
    runtime = app.org(name)
    applied = runtime.metadata.apply(demo_bundle(), author=DEMO_AUTHOR, message="demo sales metadata")
    revision = applied.revision.number if applied.revision else runtime.metadata.revisions()[-1].number
    _say(ctx, f"applied the demo metadata (account, contact, deal) as revision {revision}" if applied.revision
         else "the demo metadata is already applied")
    if existing and runtime.query(QuerySpec("account", fields=(), limit=1)).records:
        counts: dict[str, int] = {}
        _say(ctx, f"org '{name}' already has sample records; add --reset to start again")
    else:
        bar = ProgressBar("creating sample records")
        try:
            counts = seed(runtime, args.records, progress=bar)
        finally:
            bar.finish()
        _say(ctx, f"created {counts['account']} accounts, {counts['contact']} contacts and "
                  f"{counts['deal']} deals in org '{name}'")
    password, key = _demo_admin(ctx, name)
    if ctx.json:
        emit_json({"org": name, "revision": revision, "created": counts,
                   "admin": {"username": _admin_name(name), "password": password, "api_key": key}})
    else:
        _print_next_steps(ctx, name, password, key)
    if not args.no_serve:
        serve(ctx)
    return 0


def _admin_name(org: str) -> str:
    return f"admin@{org}.demo"


def _demo_admin(ctx: Context, org: str) -> tuple[str, str]:
    """The demo's admin user, with a new password and a new API key on every run (printed:
    this is a local demo; nothing of it is meant for production)."""
    app, username = ctx.app, _admin_name(org)
    password = secrets.token_urlsafe(12)
    if any(u.username == username for u in app.users.list(app.orgs.get(org))):
        app.users.set_password(app.orgs.get(org), username, password)
    else:
        app.create_user(org, username, name="Demo Admin", profile="admin", password=password)
    _, key = app.users.create_key(app.orgs.get(org), username, "demo")
    return password, key


def _say(ctx: Context, text: str) -> None:
    if not ctx.json:
        print(text)


def _print_next_steps(ctx: Context, org: str, password: str, key: str) -> None:
    proposal = json.dumps({"field": "stage", "op": "eq", "value": "proposal"}, separators=(",", ":"))
    tries = [
        f"record list --org {org} deal --filter {shlex.quote(proposal)} "
        "--fields name,account.name,amount,weighted_amount,days_to_close --sort -weighted_amount",
        f"record list --org {org} account --fields name,industry,open_deals,open_pipeline,next_close "
        "--sort -open_pipeline --limit 5",
        f"org show {org}",
        f"metadata pull --org {org} ./{org}-metadata",
        f"metadata revisions --org {org}",
    ]
    print()
    print("Try:")
    for rest in tries:
        print(f"  {ctx.command(rest)}")
    host, port = ctx.args.host, ctx.args.port
    base = f"http://{host}:{port}/api/v1"
    print()
    print(f"The REST API (served at {base} unless --no-serve): log in as {_admin_name(org)} with password")
    print(f"{password}, or use this API key (shown once; revoke it with `{ctx.command(f'key list --org {org}')}`):")
    print(f"  curl -H 'Authorization: Bearer {key}' '{base}/records/deal?sort=-weighted_amount&limit=5'")
    print(f"  the API document: {base}/openapi.json, readable at {base}/docs")
    print(f"In a browser: http://{host}:{port}/ (log in as {_admin_name(org)}; list views, record pages and the "
          "admin UI arrive with a later issue)")
