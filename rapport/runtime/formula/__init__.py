"""The formula language: parse, type-check, and compile to Python and to SQL.

    text ──parse──▶ syntax tree ──check──▶ typed tree ──compile_python──▶ closure(Scope)
                                                      └─compile_sql────▶ SQLAlchemy expression

Formula fields, validation rules, default formulas and workflow conditions all use it.
The functions and operators are one registry (:data:`FUNCTIONS`); the semantics of blanks
and types are documented in docs/formulas.md.
"""

from __future__ import annotations

from rapport.runtime.formula.checker import (
    FormulaInvalid, FormulaProblem, Use, check, check_formula_field, field_value,
)
from rapport.runtime.formula.python import Scope, compile_python
from rapport.runtime.formula.functions import FUNCTIONS, UDFS
from rapport.runtime.formula.registry import Env, Function, SqlContext, env_parameters
from rapport.runtime.formula.sql import compile_sql
from rapport.runtime.formula.syntax import FormulaSyntaxError, parse
from rapport.runtime.formula.typed import Typed, related_paths
from rapport.runtime.formula.types import FType
from rapport.runtime.formula.values import FormulaRuntimeError

__all__ = [
    "FUNCTIONS", "UDFS", "Env", "FType", "FormulaInvalid", "FormulaProblem", "FormulaRuntimeError",
    "FormulaSyntaxError", "Function", "Scope", "SqlContext", "Typed", "Use", "check", "check_formula_field",
    "compile_python", "compile_sql", "env_parameters", "field_value", "parse", "related_paths",
]


def _register_sqlite_functions() -> None:
    from rapport.platform.db import register_sqlite_function

    for udf in UDFS.values():
        register_sqlite_function("rapport_" + udf.name, udf)


_register_sqlite_functions()
