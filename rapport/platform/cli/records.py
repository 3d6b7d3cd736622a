"""``rapport record create|get|list|update|delete``: records as JSON in, JSON out."""

from __future__ import annotations

import argparse
from typing import Any

from rapport.platform.cli._context import CLI_ACTOR, Context
from rapport.platform.cli._input import parse_json_argument, parse_list
from rapport.platform.cli._output import emit_json
from rapport.platform.errors import InvalidRequest
from rapport.runtime.query import QuerySpec

JSON_HELP = "inline JSON, or @file.json"


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("record", help="create, read, list, update and delete records")
    sub = group.add_subparsers(dest="record_command", metavar="ACTION", required=True)
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--org", required=True, metavar="ORG", help="the org to work on")
    target.add_argument("object", metavar="OBJECT", help="the object's API name, e.g. deal")
    version = argparse.ArgumentParser(add_help=False)
    version.add_argument("--version", type=int, metavar="N",
                         help="the version you read: refuse if the record changed since (records.stale_version)")

    create = sub.add_parser("create", parents=[*common, target], help="create one record, or many from a JSON list")
    create.add_argument("values", metavar="JSON", help=f"field values: an object, or a list of objects ({JSON_HELP})")
    create.set_defaults(handler=create_records)

    get = sub.add_parser("get", parents=[*common, target], help="one record by id")
    get.add_argument("id", metavar="ID")
    get.set_defaults(handler=get_record)

    listing = sub.add_parser("list", parents=[*common, target], help="query records")
    listing.add_argument("--filter", metavar="JSON",
                         help='a filter tree, e.g. \'{"field":"stage","op":"eq","value":"proposal"}\' '
                              f"({JSON_HELP})")
    listing.add_argument("--fields", metavar="A,B", help="field paths to return, e.g. name,account.name")
    listing.add_argument("--sort", metavar="A,-B", help="sort by these paths; '-' for descending")
    listing.add_argument("--limit", type=int, metavar="N", help="page size")
    listing.add_argument("--cursor", metavar="C", help="next_cursor of the previous page")
    listing.add_argument("--count", action="store_true", help="also count every matching record")
    listing.set_defaults(handler=list_records)

    update = sub.add_parser("update", parents=[*common, target, version], help="change fields of a record")
    update.add_argument("id", metavar="ID")
    update.add_argument("values", metavar="JSON", help=f"the fields to set ({JSON_HELP})")
    update.set_defaults(handler=update_record)

    delete = sub.add_parser("delete", parents=[*common, target, version], help="delete a record")
    delete.add_argument("id", metavar="ID")
    delete.set_defaults(handler=delete_record)


def create_records(ctx: Context) -> int:
    values = parse_json_argument(ctx.args.values, "JSON")
    service = ctx.org().records(CLI_ACTOR)
    if isinstance(values, dict):
        emit_json(service.create(ctx.args.object, values))
    elif isinstance(values, list) and all(isinstance(v, dict) for v in values):
        emit_json(service.create_many(ctx.args.object, values))
    else:
        raise InvalidRequest("argument JSON must be an object (one record) or a list of objects (many records), "
                             f"got {_json_kind(values)}", code="cli.bad_records")
    return 0


def get_record(ctx: Context) -> int:
    emit_json(ctx.org().records(CLI_ACTOR).get(ctx.args.object, ctx.args.id))
    return 0


def list_records(ctx: Context) -> int:
    args = ctx.args
    spec = QuerySpec(
        args.object,
        filter=parse_json_argument(args.filter, "--filter") if args.filter is not None else None,
        fields=parse_list(args.fields),
        sort=parse_list(args.sort) or (),
        limit=args.limit,
        cursor=args.cursor,
        count=args.count,
    )
    result = ctx.org().query(spec)
    out: dict[str, Any] = {"records": result.records, "next_cursor": result.next_cursor}
    if args.count:
        out["total"] = result.total
    emit_json(out)
    return 0


def update_record(ctx: Context) -> int:
    values = parse_json_argument(ctx.args.values, "JSON")
    if not isinstance(values, dict):
        raise InvalidRequest(f"argument JSON must be an object of fields to set, got {_json_kind(values)}",
                             code="cli.bad_records")
    record = ctx.org().records(CLI_ACTOR).update(ctx.args.object, ctx.args.id, values,
                                                 expected_version=ctx.args.version)
    emit_json(record)
    return 0


def delete_record(ctx: Context) -> int:
    ctx.org().records(CLI_ACTOR).delete(ctx.args.object, ctx.args.id, expected_version=ctx.args.version)
    emit_json({"deleted": True, "object": ctx.args.object, "id": ctx.args.id})
    return 0


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return "a list with a non-object item" if kind is list else name
    return "a number"
