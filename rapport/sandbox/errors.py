"""How a script's failure reaches the caller: Rapport errors, hence problem+json.

    RapportError
    ├── ScriptFailed        sandbox.script_error                 422  (script, line)
    │                       sandbox.worker_crashed               422  (the worker died running it)
    ├── LimitReached        sandbox.limit.<name>                 422  (script, limit, value, setting)
    ├── ScriptNotFound      sandbox.script_not_found             404
    └── SandboxUnavailable  sandbox.unavailable                  503  (no worker free in time)

Each names the script (``deal.set_discount``) and, where known, the line of the script
where it failed; the record service's transaction rolls back, so nothing is half-written.
"""

from __future__ import annotations

from typing import Any

from rapport.platform.errors import NotFound, RapportError


class ScriptFailed(RapportError):
    """A script raised (``ScriptError`` or any other exception), or its worker crashed."""

    code = "sandbox.script_error"
    status = 422
    title = "Script failed"

    def __init__(self, script: str, message: str, *, line: int | None = None, error_type: str | None = None,
                 code: str | None = None) -> None:
        where = f"script '{script}'" + (f", line {line}" if line else "")
        details: dict[str, Any] = {"script": script, "line": line}
        if error_type:
            details["error_type"] = error_type
        super().__init__(f"{where}: {message}", code=code, details=details)
        self.script = script
        self.line = line
        self.reason = message


class LimitReached(RapportError):
    """A governor limit of the transaction was reached (``sandbox.limit.queries`` …)."""

    status = 422
    title = "Script limit exceeded"

    def __init__(self, code: str, message: str, *, script: str | None = None, limit: int | None = None,
                 setting: str | None = None) -> None:
        details: dict[str, Any] = {"script": script, "limit": limit, "setting": setting}
        prefix = f"script '{script}': " if script else ""
        super().__init__(prefix + message, code=code, details=details)
        self.script = script
        self.reason = message

    def for_script(self, script: str) -> LimitReached:
        """The same limit, naming the script that reached it (if it names none yet)."""
        if self.script is not None:
            return self
        return LimitReached(self.code, self.reason, script=script, limit=self.details.get("limit"),
                            setting=self.details.get("setting"))


class ScriptNotFound(NotFound):
    code = "sandbox.script_not_found"


class SandboxUnavailable(RapportError):
    code = "sandbox.unavailable"
    status = 503
    title = "Scripts unavailable"
