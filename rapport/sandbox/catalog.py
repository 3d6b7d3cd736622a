"""The scripts of one revision, ready to find: triggers by object and kind, in bundle order;
actions by object and name; endpoints by name.

Built once per compiled revision (kept on the compiled model, like its other per-revision
parts) from the bundle's script components; inactive scripts are left out. Scheduled
scripts are kept in the metadata but not run by this catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapport.metadata.model import Bundle, Component

TRIGGER_KINDS = ("before_save", "after_save", "before_delete", "after_delete")
SYSTEM = "system"


@dataclass(frozen=True)
class Script:
    """One runnable script. ``key`` names it in errors and the runs log (``deal.set_discount``)."""

    key: str
    name: str
    object: str | None
    kind: str
    code: str
    #: it runs its data calls as the system (``"run_as": "system"``) instead of the user
    as_system: bool = False

    @classmethod
    def of(cls, component: Component) -> Script:
        return cls(key=component.key, name=component.name, object=component.object,
                   kind=str(component.get("kind")), code=str(component.get("code", "")),
                   as_system=component.get("run_as") == SYSTEM)


@dataclass(frozen=True)
class Catalog:
    triggers: dict[tuple[str, str], tuple[Script, ...]] = field(default_factory=dict)
    actions: dict[tuple[str, str], Script] = field(default_factory=dict)
    endpoints: dict[str, Script] = field(default_factory=dict)

    @classmethod
    def of(cls, bundle: Bundle) -> Catalog:
        triggers: dict[tuple[str, str], list[Script]] = {}
        actions: dict[tuple[str, str], Script] = {}
        endpoints: dict[str, Script] = {}
        for component in bundle.scripts:
            if component.get("active", True) is False:
                continue
            script = Script.of(component)
            if script.kind in TRIGGER_KINDS and script.object:
                triggers.setdefault((script.object, script.kind), []).append(script)
            elif script.kind == "action" and script.object:
                actions[(script.object, script.name)] = script
            elif script.kind == "endpoint":
                endpoints[script.name] = script
        return cls({k: tuple(v) for k, v in triggers.items()}, actions, endpoints)

    def trigger_scripts(self, object_name: str, kind: str) -> tuple[Script, ...]:
        return self.triggers.get((object_name, kind), ())


def catalog_of(model: Any) -> Catalog:
    """The catalog of a compiled org model (``rapport.runtime.compiled.CompiledOrg``), built
    on first use and kept on it for the revision's lifetime."""
    catalog = model.sandbox
    if catalog is None:
        catalog = model.sandbox = Catalog.of(model.bundle)
    return catalog  # type: ignore[no-any-return]
