"""Every function and operator of the language: importing this module fills the registry."""

from __future__ import annotations

from rapport.runtime.formula import dates, logic, math, operators, text
from rapport.runtime.formula.registry import FUNCTIONS, UDFS

__all__ = ["FUNCTIONS", "UDFS", "dates", "logic", "math", "operators", "text"]
