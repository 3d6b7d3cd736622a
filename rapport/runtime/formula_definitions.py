"""Formulas past the metadata loader: every formula of a bundle type-checked, return types filled in.

When ``loading.load`` reads a bundle, each formula is parsed and checked against its
object: formula fields (``expression``, against their ``return_type``), default formulas
(``default_formula``, against the field's own type), validation rules (``error_condition``,
a boolean that may see the prior record) and workflow conditions (``condition``, likewise).
A problem points at the formula's key and says where in it (line and column) and what
was expected; the ``hint`` shows the line with a caret under the place.

A formula field without ``return_type`` gets the type its expression has, so that
describe, filters and forms know it (a derived option: stored and exported bundles leave
it out, so it follows the expression when that changes).
"""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Iterator

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem, ProblemCollector
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.formula import FormulaInvalid, FType, Use, check, check_formula_field
from rapport.runtime.formula.types import DEFAULT_RETURN_TYPES

#: the formula types a default formula may give, per formula type of the field it fills
_DEFAULT_FITS = {
    FType.PICKLIST: frozenset({FType.TEXT}), FType.MULTIPICKLIST: frozenset({FType.TEXT}),
}


def complete_formulas(bundle: Bundle, problems: ProblemCollector) -> Bundle:
    """``bundle`` with return types filled in; every formula problem added to ``problems``."""
    objects = []
    for i, obj in enumerate(bundle.objects):
        fields = []
        for j, defn in enumerate(obj.fields):
            at = f"/objects/{i}/fields/{j}"
            fields.append(_formula_field(bundle, obj, defn, at, problems))
            _default_formula(bundle, obj, defn, at, problems)
        objects.append(replace(obj, fields=tuple(fields)))
    completed = replace(bundle, objects=tuple(objects))
    for at, obj, text, use in _rule_formulas(completed):
        try:
            check(completed, obj, text, use)
        except FormulaInvalid as error:
            problems.extend(_problems(error, at, use.noun, text))
    return completed


def _formula_field(bundle: Bundle, obj: ObjectDef, defn: FieldDef, at: str, problems: ProblemCollector) -> FieldDef:
    if FIELD_TYPES[defn.type].stored or defn.expression is None:  # not a formula field
        return defn
    noun = f"formula field '{obj.name}.{defn.name}'"
    try:
        typed = check_formula_field(bundle, obj, defn)
    except FormulaInvalid as error:
        problems.extend(_problems(error, f"{at}/expression", noun, defn.expression))
        return defn
    if defn.return_type is None:  # filled in, not written back: it follows the expression
        return replace(defn, return_type=DEFAULT_RETURN_TYPES.get(typed.type, "text"),
                       derived=defn.derived | {"return_type"})
    return defn


def _default_formula(bundle: Bundle, obj: ObjectDef, defn: FieldDef, at: str, problems: ProblemCollector) -> None:
    if defn.default_formula is None:
        return
    noun = f"the default formula of field '{obj.name}.{defn.name}'"
    field_type = FIELD_TYPES[defn.type]
    if not field_type.writable:
        problems.add(f"{at}/default_formula", "metadata.invalid",
                     f"field '{defn.name}' of object '{obj.name}' is computed ({defn.type}) and takes no default")
        return
    if defn.default is not None:
        problems.add(f"{at}/default_formula", "metadata.invalid",
                     f"field '{defn.name}' of object '{obj.name}' has both 'default' and 'default_formula'; "
                     "give one of them")
        return
    kind = FType(field_type.formula_kind(defn))
    try:
        check(bundle, obj, defn.default_formula, Use(noun, _DEFAULT_FITS.get(kind, frozenset({kind}))))
    except FormulaInvalid as error:
        problems.extend(_problems(error, f"{at}/default_formula", noun, defn.default_formula))


def _rule_formulas(bundle: Bundle) -> Iterator[tuple[str, ObjectDef, str, Use]]:
    boolean = frozenset({FType.BOOLEAN})
    for kind, key, noun in (("validation_rules", "error_condition", "validation rule"),
                            ("workflow_rules", "condition", "workflow rule")):
        for k, component in enumerate(getattr(bundle, kind)):
            obj = bundle.object(component.object or "")
            text = component.get(key)
            if obj is not None and isinstance(text, str):
                use = Use(f"{noun} '{component.key}'", boolean, allow_prior=True)
                yield f"/{kind}/{k}/{key}", obj, text, use


def _problems(error: FormulaInvalid, at: str, noun: str, text: str) -> Iterator[Problem]:
    lines = text.splitlines() or [""]
    for problem in error.problems:
        line = lines[min(problem.pos.line, len(lines)) - 1]
        caret = " " * (problem.pos.column - 1) + "^"
        yield Problem(at, problem.code, f"{noun}: {problem.pos}: {problem.message}", hint=f"{line}\n{caret}")
