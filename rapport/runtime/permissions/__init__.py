"""Permissions: profiles and permission sets compiled per revision, and one user's access.

    grants.py   what a profile plus permission sets grant (object and field access)
    access.py   one user's access: checks, field-level security, record sharing as SQL

The record service and the query engine enforce them; the API, forms, scripts and
workflow all go through those, so the same rules hold everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapport.platform.actor import Actor
from rapport.platform.errors import ValidationFailed, Problem
from rapport.runtime.compiled import CompiledOrg
from rapport.runtime.permissions.access import Access, unrestricted
from rapport.runtime.permissions.grants import (
    BUILTIN_PROFILES, SYSTEM_PERMISSIONS, FieldAccess, Grants, ObjectGrant, compile_grants,
)

__all__ = [
    "BUILTIN_PROFILES", "SYSTEM_PERMISSIONS", "Access", "FieldAccess", "Grants", "ObjectGrant", "access_for",
    "check_assignment", "compile_grants", "profile_names", "permission_set_names",
]


def access_for(model: CompiledOrg, actor: Actor) -> Access:
    """``actor``'s access under ``model``; the grants are compiled once per revision and profile."""
    if actor.is_system:
        return unrestricted(actor.id)
    key = (actor.profile or "", tuple(sorted(actor.permission_sets)))
    grants = model.grants.get(key)
    if grants is None:
        grants = model.grants.setdefault(key, compile_grants(model.bundle, key[0], key[1]))
    return Access(grants, actor.id)


def profile_names(model: CompiledOrg) -> list[str]:
    return [*BUILTIN_PROFILES, *(p.name for p in model.bundle.profiles)]


def permission_set_names(model: CompiledOrg) -> list[str]:
    return [p.name for p in model.bundle.permission_sets]


def check_assignment(model: CompiledOrg, profile: str, permission_sets: Sequence[str]) -> None:
    """Refuse a profile or permission set the org's metadata does not define."""
    problems = []
    profiles = profile_names(model)
    if profile not in profiles:
        problems.append(Problem("/profile", "users.unknown_profile",
                                f"org '{model.org_name}' has no profile {profile!r}; profiles are "
                                f"{', '.join(repr(p) for p in profiles)}"))
    known = permission_set_names(model)
    for index, name in enumerate(permission_sets):
        if name not in known:
            problems.append(Problem(f"/permission_sets/{index}", "users.unknown_permission_set",
                                    f"org '{model.org_name}' has no permission set {name!r}; permission sets are "
                                    f"{', '.join(repr(p) for p in known) or 'none'}"))
    if problems:
        raise ValidationFailed(problems[0].message if len(problems) == 1 else "unknown profile or permission sets",
                               code=problems[0].code, problems=problems)
