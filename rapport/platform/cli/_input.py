"""What the CLI reads: JSON arguments (inline or ``@file.json``) and bundles (file or folder).

Malformed input never ends in a traceback: it becomes a ``cli.*`` error that names the
argument or file and, for bad JSON, the line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rapport.metadata.folder import read_bundle_folder
from rapport.platform.errors import InvalidRequest, NotFound


def parse_json_argument(text: str, name: str) -> Any:
    """The JSON value of argument ``name``: inline JSON, or ``@path`` to read it from a file."""
    if text.startswith("@"):
        return read_json_file(Path(text[1:]))
    return _loads(text, f"argument {name}")


def read_json_file(path: Path) -> Any:
    if path.is_dir():
        raise InvalidRequest(f"{str(path)!r} is a folder, not a JSON file", code="cli.not_a_file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"file {str(path)!r} does not exist", code="cli.file_not_found") from None
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"file {str(path)!r} is not UTF-8 text ({error.reason})",
                             code="cli.bad_json") from None
    return _loads(text, f"file {str(path)!r}")


def read_bundle(path: Path) -> Any:
    """A bundle as plain JSON, from a ``.json`` file or a bundle folder (not validated yet)."""
    if path.is_dir():
        return read_bundle_folder(path)
    if not path.exists():
        raise NotFound(f"{str(path)!r} does not exist (expected a bundle .json file or a bundle folder)",
                       code="cli.file_not_found")
    return read_json_file(path)


def parse_list(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,account.name"`` → ``("a", "b", "account.name")``; ``None`` stays ``None``."""
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _loads(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"{source} is not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}",
                             code="cli.bad_json") from None
    except (ValueError, RecursionError) as error:  # e.g. a 5,000-digit number, or nesting too deep
        raise InvalidRequest(f"{source} cannot be read as JSON: {error}", code="cli.bad_json") from None
