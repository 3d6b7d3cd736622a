"""The metadata check of scripts: a script whose code does not compile cannot be saved.

Run by ``runtime.loading.load`` with the other checks only the runtime can make, so plan
and apply refuse such a bundle before anything is written. Each problem of the language
layer becomes one :class:`Problem` at ``/scripts/<i>/code`` that names the script, the line
and the column; its hint shows the line with a caret under the place.
"""

from __future__ import annotations

from rapport.metadata.model import Bundle
from rapport.platform.errors import Problem, pointer
from rapport.sandbox.language import ScriptProblem, check_script

COMPILE_ERROR = "sandbox.compile_error"


def script_problems(bundle: Bundle) -> list[Problem]:
    """One problem per compile problem of every script of ``bundle`` (active or not)."""
    problems: list[Problem] = []
    for i, script in enumerate(bundle.scripts):
        code = script.get("code")
        if not isinstance(code, str):
            continue  # a missing or non-text code is the JSON Schema's to report
        for problem in check_script(code):
            problems.append(Problem(pointer("scripts", i, "code"), COMPILE_ERROR,
                                    f"script {script.key!r}, {problem}", hint=_caret(code, problem)))
    return problems


def _caret(code: str, problem: ScriptProblem) -> str | None:
    lines = code.splitlines()
    if not 1 <= problem.line <= len(lines):
        return None
    line = lines[problem.line - 1]
    return f"{line}\n{' ' * (problem.column - 1)}^"
