"""Who performs an operation. Users and permissions arrive with the API issue; until then an
actor is an id and a display name, recorded as owner / created_by / updated_by and in history."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    id: str
    name: str

    def __str__(self) -> str:
        return self.name


SYSTEM = Actor("system", "System")
