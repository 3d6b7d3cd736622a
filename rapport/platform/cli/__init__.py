"""``rapport``: the command line — orgs, metadata, records, users and API keys, jobs, the worker and the demo.

    rapport org create|list|show|delete
    rapport metadata validate|plan|apply|pull|revisions|diff|revert|trash|restore|purge
    rapport record create|get|list|update|delete
    rapport user create|list|show|update|set-password
    rapport key create|list|revoke
    rapport job list|show
    rapport worker
    rapport serve
    rapport demo

Each area's commands live in their own module with a ``register(subparsers, common)``
function; a handler takes a :class:`~rapport.platform.cli._context.Context` and returns
the exit code. Errors are handled once, here: a ``RapportError`` prints ``error: <message>
[code]`` and its problems on stderr and exits 1; argparse's usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rapport.platform.cli import demo, jobs, metadata, orgs, records, serve, users, worker
from rapport.platform.cli._context import Context
from rapport.platform.cli._output import print_error
from rapport.platform.errors import RapportError

__all__ = ["build_parser", "main"]


def _common_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """``--data-dir`` and ``--json``, accepted before the command and after it.

    In a subcommand the defaults are suppressed, so an option given before the command is
    not overwritten by the subcommand's default.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        default=argparse.SUPPRESS if in_subcommand else None,
                        help="where the embedded database lives (overrides RAPPORT_DATA_DIR)")
    parser.add_argument("--json", action="store_true",
                        default=argparse.SUPPRESS if in_subcommand else False,
                        help="print JSON instead of text")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rapport", parents=[_common_options(in_subcommand=False)],
        description="Rapport, a metadata-driven CRM platform: manage orgs, metadata and records.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_common_options(in_subcommand=True)]
    orgs.register(commands, common)
    metadata.register(commands, common)
    records.register(commands, common)
    users.register(commands, common)
    jobs.register(commands, common)
    worker.register(commands, common)
    serve.register(commands, common)
    demo.register(commands, common)
    return parser


# Options whose value may start with "-" (``--sort -amount``): argparse would take such a
# value for an unknown option, so it is attached as ``--sort=-amount`` before parsing.
DASH_VALUE_OPTIONS = ("--sort",)


def _attach_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            out.append(token)
            out.extend(tokens)
            break
        if token in DASH_VALUE_OPTIONS:
            value = next(tokens, None)
            if value is None:
                out.append(token)
            elif value.startswith("-") and not value.startswith("--") and value != "-h":
                out.append(f"{token}={value}")
            else:
                out.extend((token, value))
            continue
        out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(_attach_dash_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit:  # --help (0) or a usage error (2): argparse printed it already
        return exit.code if isinstance(exit.code, int) else 2
    context: Context | None = None
    try:
        context = Context.from_args(args)
        return int(args.handler(context))
    except RapportError as error:
        print_error(error)
        return 1
    except OSError as error:  # a folder that cannot be written, a file that cannot be read
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where} [cli.os_error]", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if context is not None:
            context.close()
