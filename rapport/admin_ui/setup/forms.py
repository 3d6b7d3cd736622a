"""What the object and field editors share: API names suggested from labels and checked as
the metadata format defines them (``common.json#/$defs/name``), and the errors of a form —
its own checks and the metadata loader's problems — put at the input they belong to.

A loader problem points into the whole bundle (``/objects/2/fields/5/max_length``); the
editor that built the bundle knows where its component sits (``/objects/2/fields/5``) and
which of its inputs each key of the component is, so the message shows at that input.
Problems elsewhere in the bundle (a layout or a rule the change breaks) show at the top.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rapport.admin_ui.setup.places import Place, place_of
from rapport.metadata import schema
from rapport.metadata.model import RESERVED_FIELD_NAMES
from rapport.platform.errors import RapportError


@dataclass(frozen=True)
class FormError:
    """One thing wrong with a form; ``hint`` is preformatted (a formula line with a caret)."""

    message: str
    hint: str | None = None
    #: where in the metadata the problem is, for one that is not the form's own
    place: Place | None = None


@dataclass
class FormErrors:
    """The errors of a form: per input (by the input's name), and those of no one input."""

    at: dict[str, FormError] = field(default_factory=dict)
    general: list[FormError] = field(default_factory=list)

    def add(self, key: str | None, message: str, hint: str | None = None, place: Place | None = None) -> None:
        error = FormError(sentence(message), hint, place)
        if key is None:
            self.general.append(error)
        elif key in self.at:  # several problems of one input: one message, each said once
            if error.message not in self.at[key].message:
                joined = f"{self.at[key].message} {error.message}"
                self.at[key] = FormError(joined, self.at[key].hint or hint)
        else:
            self.at[key] = error

    def __bool__(self) -> bool:
        return bool(self.at or self.general)


def add_problems(errors: FormErrors, error: RapportError, bundle: dict[str, Any], prefix: str,
                 input_of: Callable[[str], str | None] | Mapping[str, str]) -> None:
    """``error``'s problems (with ``bundle``, the metadata planned) added to ``errors``: those
    under ``prefix`` (the component's JSON pointer) at the input ``input_of`` names for the
    key they point at, the rest in general, with the place they point at."""
    lookup = input_of.get if isinstance(input_of, Mapping) else input_of
    if not error.problems:
        errors.add(None, error.message)
    for problem in error.problems:
        key = None
        if problem.pointer.startswith(prefix + "/"):
            key = lookup(problem.pointer[len(prefix) + 1:].split("/")[0])
        place = None if key is not None else place_of(bundle, problem.pointer)
        errors.add(key, problem.message, problem.hint, place)


def sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


# -- API names ------------------------------------------------------------------------------

@cache
def _name_rule() -> tuple[re.Pattern[str], int, str]:
    rule = schema("common")["$defs"]["name"]
    return re.compile(rule["pattern"]), int(rule["maxLength"]), str(rule["description"])


def suggest_name(label: str) -> str:
    """An API name for ``label``: 'Close date (est.)' → 'close_date_est' (what rapport.js
    suggests as the admin types; empty when the label has no letter to start with)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c)).lower()
    name = re.sub(r"[^a-z0-9]+", "_", plain)
    name = re.sub(r"^[^a-z]+", "", name)
    _, longest, _ = _name_rule()
    return name[:longest].strip("_")


#: the name Setup's addresses use for a new object or field (``/admin/objects/new``)
NEW = "new"


def name_problem(name: str) -> str | None:
    """Why ``name`` is not an API name an admin may give an object or field here, or ``None``."""
    pattern, longest, rule = _name_rule()
    if not name:
        return "Enter an API name (or a label to suggest one from)"
    if name == NEW:
        return f"'{NEW}' is taken by the address of Setup's form for a new one; choose another name"
    if "__" in name:
        return f"'{name}' has '__', which is kept for the namespaces of packages; use single underscores"
    if len(name) > longest or not pattern.fullmatch(name):
        return f"'{name}' is not a valid API name. {rule}"
    return None


def field_name_problem(name: str) -> str | None:
    """:func:`name_problem`, and the names every object has already (``id``, ``owner``…)."""
    if name in RESERVED_FIELD_NAMES:
        reserved = ", ".join(sorted(RESERVED_FIELD_NAMES))
        return f"'{name}' is a system field every object has; reserved names are {reserved}"
    return name_problem(name)


def humanise(key: str) -> str:
    """A metadata key or enum value as people read it: 'public_read_write' → 'Public read write'."""
    return key.replace("_", " ").capitalize()
