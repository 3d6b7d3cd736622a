"""A bundle as a folder of JSON files, so that metadata lives in git and diffs well.

    objects/<object>.json
    layouts/<object>.<name>.json
    list_views/<object>.<name>.json
    validation_rules/<object>.<name>.json
    workflow_rules/<object>.<name>.json
    scripts/<name>.json              (or <object>.<name>.json for a script of an object)

Reading returns the plain dict bundle (run :func:`~rapport.metadata.loader.load_bundle` on
it); files are read in sorted order, so the bundle's order is the folders' order. Files and
folders whose names start with ``.`` are ignored; so are plain files next to the sub-folders
(a README). Writing produces 2-space indented JSON with a trailing newline and removes the
``.json`` files a sub-folder no longer needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rapport.metadata.model import COMPONENT_KINDS, Bundle
from rapport.platform.errors import NotFound, Problem, ValidationFailed, pointer

__all__ = ["FOLDERS", "read_bundle_folder", "write_bundle_folder"]

FOLDERS = ("objects", "layouts", "list_views", *COMPONENT_KINDS)


def read_bundle_folder(path: str | Path) -> dict[str, Any]:
    """The bundle stored in folder ``path`` as a plain dict, not yet validated."""
    root = Path(path)
    if not root.is_dir():
        raise NotFound(f"metadata folder {str(root)!r} does not exist",
                       code="metadata.folder_not_found")
    bundle: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    entries = sorted(root.iterdir())
    if not any(entry.is_dir() and entry.name in FOLDERS for entry in entries):
        # An empty bundle would delete every object of the org: say so rather than guess.
        raise ValidationFailed(
            f"{str(root)!r} is not a bundle folder: it has none of the folders "
            + ", ".join(repr(f) for f in FOLDERS)
            + " (to apply an empty bundle, use a file holding {})", code="metadata.not_a_bundle_folder")
    for entry in entries:
        if entry.suffix == ".json" and entry.is_file():
            problems.append(Problem(
                pointer(entry.name), "metadata.unknown_file",
                f"{str(entry)!r} is not in a component folder; move it into one of "
                + ", ".join(repr(f) for f in FOLDERS)))
            continue
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.name not in FOLDERS:
            problems.append(Problem(
                pointer(entry.name), "metadata.unknown_folder",
                f"unknown folder {str(entry)!r}; a bundle folder holds "
                + ", ".join(repr(f) for f in FOLDERS),
            ))
            continue
        items = [_read_file(file, problems) for file in _entries(entry, problems)]
        if items:
            bundle[entry.name] = items
    if problems:
        codes = {p.code for p in problems}
        code = codes.pop() if len(codes) == 1 else "metadata.invalid"
        noun = "problem" if len(problems) == 1 else "problems"
        raise ValidationFailed(f"metadata folder {str(root)!r} is invalid ({len(problems)} {noun})",
                               code=code, problems=problems)
    return bundle


def write_bundle_folder(bundle: Bundle, path: str | Path) -> list[Path]:
    """Write ``bundle`` into folder ``path``; returns the files written, sorted."""
    root = Path(path)
    wanted = _files(bundle)
    written: list[Path] = []
    for relative in sorted(wanted):
        file = root / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(wanted[relative], indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(file)
    for folder in FOLDERS:
        if not (root / folder).is_dir():
            continue
        for stale in sorted((root / folder).glob("*.json")):
            if f"{folder}/{stale.name}" not in wanted:
                stale.unlink()
    return written


def _files(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """Relative file path (``layouts/deal.default.json``) → the component's JSON."""
    files: dict[str, dict[str, Any]] = {}
    for obj in bundle.objects:
        files[f"objects/{obj.name}.json"] = obj.to_dict()
    for layout in bundle.layouts:
        files[f"layouts/{layout.key}.json"] = layout.to_dict()
    for view in bundle.list_views:
        files[f"list_views/{view.key}.json"] = view.to_dict()
    for kind, component in bundle.components():
        files[f"{kind}/{component.key}.json"] = component.to_dict()
    return files


def _entries(folder: Path, problems: list[Problem]) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".json":
            files.append(entry)
        else:
            problems.append(Problem(
                pointer(folder.name, entry.name), "metadata.unknown_file",
                f"unexpected {'folder' if entry.is_dir() else 'file'} {str(entry)!r}; "
                f"{folder.name}/ holds only .json files",
            ))
    return files


def _read_file(file: Path, problems: list[Problem]) -> Any:
    at = pointer(file.parent.name, file.name)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        problems.append(Problem(
            at, "metadata.bad_json",
            f"{file}: line {error.lineno}, column {error.colno}: {error.msg}",
        ))
    except UnicodeDecodeError as error:
        problems.append(Problem(at, "metadata.bad_json", f"{file}: not UTF-8 text ({error.reason})"))
    except (ValueError, RecursionError) as error:  # e.g. a 5,000-digit number, or nesting too deep
        problems.append(Problem(at, "metadata.bad_json", f"{file}: cannot be read as JSON ({error})"))
    return None
