"""``rapport org create|list|show|delete``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._output import emit_json, emit_table
from rapport.platform.errors import InvalidRequest
from rapport.runtime.query import QuerySpec


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    org = commands.add_parser("org", help="create, list, show and delete orgs")
    sub = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", parents=common, help="create an empty org")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--label", help="the name people see (default: NAME in title case)")
    create.set_defaults(handler=create_org)

    sub.add_parser("list", parents=common, help="list the orgs").set_defaults(handler=list_orgs)

    show = sub.add_parser("show", parents=common, help="an org, its revision and its objects")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(handler=show_org)

    delete = sub.add_parser("delete", parents=common, help="export an org's data, then delete the org")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--export-dir", type=Path, required=True, metavar="DIR",
                        help="the export (one .jsonl file per table, plus org.json) is written here first")
    delete.add_argument("--yes", action="store_true", help="really delete the org")
    delete.set_defaults(handler=delete_org)


def create_org(ctx: Context) -> int:
    org = ctx.app.create_org(ctx.args.name, ctx.args.label)
    if ctx.json:
        emit_json(org.to_dict())
    else:
        print(f"created org '{org.name}' ({org.label})")
        print(f"next: {ctx.command(f'metadata apply --org {org.name} BUNDLE.json')}")
    return 0


def list_orgs(ctx: Context) -> int:
    found = ctx.app.orgs.list()
    if ctx.json:
        emit_json([org.to_dict() for org in found])
    elif not found:
        print(f"no orgs yet: create one with `{ctx.command('org create NAME')}` or try `{ctx.command('demo')}`")
    else:
        emit_table(["name", "label", "created (UTC)"],
                   [(o.name, o.label, f"{o.created_at:%Y-%m-%d %H:%M}") for o in found])
    return 0


def show_org(ctx: Context) -> int:
    org = ctx.app.orgs.get(ctx.args.name)
    runtime = ctx.app.org(org.name)
    revisions = runtime.metadata.revisions()
    model = runtime.model()
    counts = {name: runtime.query(QuerySpec(name, fields=(), limit=1, count=True)).total
              for name in sorted(model.objects)}
    data = {**org.to_dict(), "revision": revisions[-1].number if revisions else 0, "records": counts}
    if ctx.json:
        emit_json(data)
        return 0
    print(f"org:      {org.name} ({org.label})")
    print(f"id:       {org.id}")
    print(f"created:  {org.created_at:%Y-%m-%d %H:%M} UTC")
    print(f"revision: {data['revision'] or 'none yet (no metadata applied)'}")
    if counts:
        print("objects:")
        width = max(len(name) for name in counts)
        for name, count in counts.items():
            print(f"  {name.ljust(width)}  {count} records")
    return 0


def delete_org(ctx: Context) -> int:
    name, export_dir = ctx.args.name, ctx.args.export_dir
    ctx.app.orgs.get(name)  # an unknown org is orgs.not_found, with or without --yes
    if not ctx.args.yes:
        raise InvalidRequest(
            f"deleting org '{name}' removes all of its data; an export is written to {str(export_dir)!r} "
            "first. Re-run with --yes to export and delete it", code="cli.confirmation_required")
    target = ctx.app.delete_org(name, export_dir)
    if ctx.json:
        emit_json({"deleted": name, "export": str(target)})
    else:
        print(f"exported org '{name}' to {target}")
        print(f"deleted org '{name}'")
    return 0
