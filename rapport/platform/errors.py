"""Rapport's one exception hierarchy.

Every error has a stable dotted ``code``, an HTTP ``status`` and a message that says what
failed, where, and what is allowed. Validation errors carry every :class:`Problem` found,
each with a JSON pointer, so a caller fixes everything in one go. Services raise these,
never HTTP exceptions; one handler (API, CLI) turns them into problem+json or text.

    RapportError
    ├── SettingsError            settings.invalid
    ├── Unauthorized             auth.*                            401
    ├── Forbidden                permissions.*                     403
    ├── NotFound                 *.not_found                       404
    ├── AlreadyExists            *.already_exists                  409
    ├── InvalidRequest           *.invalid                         400
    ├── ValidationFailed         metadata.invalid, records.validation_failed   422
    ├── Conflict                 *.conflict (e.g. lookup restrict)  409
    │   └── StaleVersion         records.stale_version             412
    ├── ConfirmationRequired     schema.confirmation_required      409
    ├── ConversionRefused        schema.conversion_refused         409
    ├── PayloadTooLarge          api.body_too_large                413
    └── TooManyRequests          rate_limit.exceeded               429 (``retry_after`` seconds)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with some input: where (JSON pointer), a stable code, a message."""

    pointer: str
    code: str
    message: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"pointer": self.pointer, "code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data

    def __str__(self) -> str:
        where = self.pointer or "/"
        return f"{where}: {self.message} [{self.code}]"


class RapportError(Exception):
    code = "rapport.error"
    status = 400
    title = "Request failed"

    def __init__(self, message: str, *, code: str | None = None, problems: Iterable[Problem] = (),
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.details: dict[str, Any] = details or {}

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 problem+json body for this error."""
        body: dict[str, Any] = {
            "type": f"https://rapport.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.problems:
            body["errors"] = [p.to_dict() for p in self.problems]
        body.update(self.details)
        return body

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] + [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class SettingsError(RapportError):
    code = "settings.invalid"
    status = 500
    title = "Invalid setting"


class Unauthorized(RapportError):
    code = "auth.unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(RapportError):
    code = "permissions.denied"
    status = 403
    title = "Forbidden"


class NotFound(RapportError):
    code = "rapport.not_found"
    status = 404
    title = "Not found"


class AlreadyExists(RapportError):
    code = "rapport.already_exists"
    status = 409
    title = "Already exists"


class InvalidRequest(RapportError):
    code = "rapport.invalid_request"
    status = 400
    title = "Invalid request"


class ValidationFailed(RapportError):
    code = "rapport.validation_failed"
    status = 422
    title = "Validation failed"


class Conflict(RapportError):
    code = "rapport.conflict"
    status = 409
    title = "Conflict"


class StaleVersion(Conflict):
    code = "records.stale_version"
    status = 412
    title = "Stale version"


class ConfirmationRequired(RapportError):
    code = "schema.confirmation_required"
    status = 409
    title = "Confirmation required"


class ConversionRefused(RapportError):
    code = "schema.conversion_refused"
    status = 409
    title = "Conversion refused"


class PayloadTooLarge(RapportError):
    code = "api.body_too_large"
    status = 413
    title = "Payload too large"


class TooManyRequests(RapportError):
    code = "rate_limit.exceeded"
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass
class ProblemCollector:
    """Collects problems; raise them all at once with :meth:`raise_if_any`."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, pointer: str, code: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(pointer, code, message, hint))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, error: type[RapportError], message: str, code: str) -> None:
        if self.problems:
            count = len(self.problems)
            noun = "problem" if count == 1 else "problems"
            raise error(f"{message} ({count} {noun})", code=code, problems=self.problems)


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path parts: ``pointer('objects', 0, 'name')``."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + p for p in escaped)
