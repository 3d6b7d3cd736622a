"""Who performs an operation: the system itself, or a user with a profile and permission sets.

An actor's id and name are recorded as owner / created_by / updated_by and in history. A
user's ``profile`` and ``permission_sets`` name metadata components; what they grant is
compiled per revision by :mod:`rapport.runtime.permissions`. The system actor (the CLI,
jobs, package installs) has no profile and every permission.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    #: the user's profile; ``None`` for the system, which may do everything
    profile: str | None = None
    permission_sets: tuple[str, ...] = ()

    @property
    def is_system(self) -> bool:
        return self.profile is None

    def __str__(self) -> str:
        return self.name


SYSTEM = Actor("system", "System")
