"""An object's formulas, compiled once per revision with the rest of the org model.

- formula fields: their typed trees, which the query engine compiles to SQL per query
  (the globals and the clock are bound then);
- validation rules and default formulas: Python closures, evaluated by the record service
  on each record, with the looked-up values they read (``related``) loaded per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapport.metadata.model import Bundle, ObjectDef
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.formula import FType, Typed, Use, check, check_formula_field, compile_python, related_paths
from rapport.runtime.formula.registry import Compiled


@dataclass(frozen=True)
class CompiledRule:
    name: str
    message: str
    field: str | None
    condition: Compiled
    #: looked-up paths the condition reads (``("account", "industry")``)
    related: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class CompiledDefault:
    field: str
    formula: Compiled
    related: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ObjectFormulas:
    fields: dict[str, Typed]
    rules: tuple[CompiledRule, ...]
    defaults: tuple[CompiledDefault, ...]


def compile_object_formulas(bundle: Bundle, obj: ObjectDef) -> ObjectFormulas:
    fields = {d.name: check_formula_field(bundle, obj, d)  # the computed fields: formulas
              for d in obj.fields if not FIELD_TYPES[d.type].stored and d.expression is not None}
    rules = []
    for rule in bundle.validation_rules:
        if rule.object != obj.name or not rule.get("active", True):
            continue
        typed = check(bundle, obj, rule.get("error_condition"),
                      Use(f"validation rule '{rule.key}'", frozenset({FType.BOOLEAN}), allow_prior=True))
        rules.append(CompiledRule(rule.name, rule.get("message"), rule.get("field"), compile_python(typed),
                                  tuple(related_paths(typed))))
    defaults = []
    for defn in obj.fields:
        if defn.default_formula is None:
            continue
        # (the result was checked against the field's type when the metadata was loaded)
        typed = check(bundle, obj, defn.default_formula, Use(f"default of '{defn.name}'", frozenset(FType)))
        defaults.append(CompiledDefault(defn.name, compile_python(typed), tuple(related_paths(typed))))
    return ObjectFormulas(fields, tuple(rules), tuple(defaults))
