"""``rapport metadata ...``: validate, plan, apply, pull, revisions, diff, revert, trash."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rapport.metadata import Bundle
from rapport.metadata.folder import write_bundle_folder
from rapport.platform.cli._context import CLI_AUTHOR, Context
from rapport.platform.cli._input import read_bundle
from rapport.platform.cli._jobs import apply_in_background
from rapport.platform.cli._output import emit_json, emit_table
from rapport.platform.errors import InvalidRequest
from rapport.runtime.loading import load
from rapport.runtime.schema_sync.planner import Plan
from rapport.runtime.schema_sync.runner import Applied, check_plan


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("metadata", help="validate, plan and apply metadata; revisions and moved-aside data")
    sub = group.add_subparsers(dest="metadata_command", metavar="ACTION", required=True)
    org = argparse.ArgumentParser(add_help=False)
    org.add_argument("--org", required=True, metavar="ORG", help="the org to work on")
    author = argparse.ArgumentParser(add_help=False)
    author.add_argument("--author", default=CLI_AUTHOR, help=f"recorded on the revision (default: {CLI_AUTHOR})")
    confirm = argparse.ArgumentParser(add_help=False)
    confirm.add_argument("--confirm-data-loss", action="store_true",
                         help="allow steps that remove or cut data (it is moved aside, restorable until purged)")
    path_help = "a bundle .json file, or a bundle folder (objects/, layouts/, ...)"

    def add(name: str, handler: Any, help: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, parents=[*common, *parents], help=help)
        parser.set_defaults(handler=handler)
        return parser

    add("validate", validate, "check a bundle without an org").add_argument("path", type=Path, metavar="PATH",
                                                                              help=path_help)
    add("plan", plan, "show what applying a bundle would change", org).add_argument(
        "path", type=Path, metavar="PATH", help=path_help)
    apply = add("apply", apply_bundle, "apply a bundle as the org's next revision", org, author, confirm)
    apply.add_argument("path", type=Path, metavar="PATH", help=path_help)
    apply.add_argument("--message", "-m", default="", help="why: recorded on the revision")
    apply.add_argument("--background", action="store_true",
                       help="run as a background job with a progress bar (automatic for large changes)")
    add("pull", pull, "write the org's current bundle as a folder", org).add_argument(
        "dir", type=Path, metavar="DIR")
    add("revisions", revisions, "list the org's revisions", org)
    diff = add("diff", diff_revisions, "the changes between two revisions (0 is the empty org)", org)
    diff.add_argument("from_number", type=int, metavar="FROM")
    diff.add_argument("to_number", type=int, metavar="TO")
    add("revert", revert, "apply an earlier revision again", org, author, confirm).add_argument(
        "number", type=int, metavar="N")
    add("trash", trash, "list data moved aside by deleting objects and fields", org)
    add("restore", restore, "bring moved-aside data back", org, author).add_argument("trash_id", type=int,
                                                                                    metavar="ID")
    purge = add("purge", purge_trash, "drop moved-aside data whose retention has passed", org)
    purge.add_argument("--id", type=int, dest="trash_id", metavar="ID", help="purge only this entry")
    purge.add_argument("--force", action="store_true", help="with --id: purge it before its retention ends")


# -- without an org -----------------------------------------------------------------------
def validate(ctx: Context) -> int:
    bundle = load(read_bundle(ctx.args.path))
    counts = _counts(bundle)
    if ctx.json:
        emit_json({"valid": True, **counts})
    else:
        parts = [_plural(n, kind.replace("_", " ").rstrip("s")) for kind, n in counts.items() if n or kind == "objects"]
        print(f"valid: {', '.join(parts)}")
    return 0


def _counts(bundle: Bundle) -> dict[str, int]:
    counts = {"objects": len(bundle.objects), "fields": sum(len(o.fields) for o in bundle.objects),
              "layouts": len(bundle.layouts), "list_views": len(bundle.list_views)}
    for kind, _component in bundle.components():
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- plan and apply -------------------------------------------------------------------------
def plan(ctx: Context) -> int:
    data = read_bundle(ctx.args.path)
    result = ctx.org().metadata.plan(data)
    if ctx.json:
        emit_json(result.to_dict())
        return 0
    print(result.describe())
    if result.refusals:
        print("This change would be refused: fix the data or the metadata first.")
    elif result.data_losing:
        print("Applying it needs --confirm-data-loss (the data is moved aside and can be restored until purged).")
    return 0


def affected_rows(result: Plan) -> int:
    return sum(i.affected_rows or 0 for i in result.inspections)


def apply_bundle(ctx: Context) -> int:
    args = ctx.args
    data = read_bundle(args.path)
    runtime = ctx.org()
    planned = runtime.metadata.plan(data)
    if not ctx.json:
        print(planned.describe())
    if planned.is_empty:
        if ctx.json:
            emit_json({"revision": None, "plan": planned.to_dict()})
        return 0
    check_plan(planned, args.confirm_data_loss)  # refuse now rather than after a second dry run
    rows = affected_rows(planned)
    threshold = ctx.settings.background_threshold_rows
    if args.background or rows > threshold:
        if not ctx.json:
            why = "as asked" if args.background else f"{rows} rows affected, over the {threshold}-row threshold"
            print(f"applying in the background ({why})")
        result = apply_in_background(ctx, runtime.name, data, author=args.author, message=args.message,
                                     confirm_data_loss=args.confirm_data_loss)
        revision = result["result"].get("revision") if isinstance(result["result"], dict) else None
        if ctx.json:
            emit_json({"revision": revision, "job": result["id"], "plan": planned.to_dict()})
        else:
            print(f"job {result['id']} finished: " + (f"revision {revision}" if revision else "no changes"))
        return 0
    applied = runtime.metadata.apply(data, author=args.author, message=args.message,
                                     confirm_data_loss=args.confirm_data_loss)
    _report_applied(ctx, applied)
    return 0


def _report_applied(ctx: Context, applied: Applied, what: str = "applied") -> None:
    number = applied.revision.number if applied.revision else None
    if ctx.json:
        emit_json({"revision": number, "plan": applied.plan.to_dict(), "notes": list(applied.notes)})
        return
    print("no changes" if number is None else f"{what}: revision {number}")
    for note in applied.notes:
        print(f"note: {note}")


def pull(ctx: Context) -> int:
    metadata = ctx.org().metadata
    bundle = metadata.bundle()
    written = write_bundle_folder(bundle, ctx.args.dir)
    latest = metadata.revisions()
    number = latest[-1].number if latest else 0
    if ctx.json:
        emit_json({"revision": number, "files": [str(p) for p in written]})
    else:
        print(f"wrote {_plural(len(written), 'file')} to {ctx.args.dir} (revision {number})")
    return 0


# -- revisions ------------------------------------------------------------------------------
def revisions(ctx: Context) -> int:
    found = ctx.org().metadata.revisions()
    if ctx.json:
        emit_json([r.summary() for r in found])
    elif not found:
        apply = ctx.command(f"metadata apply --org {ctx.args.org} PATH")
        print(f"no revisions yet: apply a bundle with `{apply}`")
    else:
        emit_table(["#", "created (UTC)", "author", "steps", "message"],
                   [(r.number, f"{r.created_at:%Y-%m-%d %H:%M:%S}", r.author, len(r.plan), r.message)
                    for r in found], right=(0, 3))
    return 0


def diff_revisions(ctx: Context) -> int:
    changes = ctx.org().metadata.diff(ctx.args.from_number, ctx.args.to_number)
    if ctx.json:
        emit_json([{"kind": c.kind, "description": c.describe()} for c in changes])
    elif not changes:
        print("no differences")
    else:
        for change in changes:
            print(f"  {change.describe()}")
    return 0


def revert(ctx: Context) -> int:
    args = ctx.args
    applied = ctx.org().metadata.revert(args.number, author=args.author, confirm_data_loss=args.confirm_data_loss)
    if not ctx.json and applied.revision is None:
        print(f"no changes: the metadata already matches revision {args.number}")
        return 0
    if not ctx.json:
        print(applied.plan.describe())
    _report_applied(ctx, applied, what=f"reverted to revision {args.number}")
    return 0


# -- moved-aside data -----------------------------------------------------------------------
def trash(ctx: Context) -> int:
    entries = ctx.org().metadata.trash()
    if ctx.json:
        emit_json(entries)
    elif not entries:
        print("no moved-aside data")
    else:
        emit_table(["id", "kind", "what", "rows", "revision", "kept until (UTC)", "restored"],
                   [(e["id"], e["kind"], e["object"] + (f".{e['field']}" if e["field"] else ""), e["rows"],
                     e["revision"], e["expires_at"][:16].replace("T", " "),
                     (e["restored_at"] or "")[:16].replace("T", " ")) for e in entries], right=(0, 3, 4))
    return 0


def restore(ctx: Context) -> int:
    applied = ctx.org().metadata.restore(ctx.args.trash_id, author=ctx.args.author)
    _report_applied(ctx, applied, what=f"restored #{ctx.args.trash_id}")
    return 0


def purge_trash(ctx: Context) -> int:
    args = ctx.args
    if args.force and args.trash_id is None:
        raise InvalidRequest("--force purges one entry early: give it with --id ID", code="cli.force_needs_id")
    purged = ctx.org().metadata.purge(args.trash_id, force=args.force)
    if ctx.json:
        emit_json({"purged": purged})
    elif purged:
        print("purged: " + ", ".join(f"#{n}" for n in purged))
    else:
        print("nothing to purge: moved-aside data is kept until its retention ends "
              "(purge one entry early with --id ID --force)")
    return 0
