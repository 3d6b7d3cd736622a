"""Named points in the record pipeline where later areas plug in.

Triggers (sandbox), validation rules (formulas), workflow and the outbox register here;
the record service runs them in the order of ARCHITECTURE.md. (Roll-up summaries are no
hook: the service recomputes them itself at the start of step 7, see ``rollups``.) A hook
receives the :class:`SaveContext` of one record and may change ``record`` (before_save),
add errors (validate), or write more rows through ``ctx.conn`` (after_save, workflow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from collections.abc import Callable

from sqlalchemy.engine import Connection

from rapport.platform.actor import Actor
from rapport.platform.errors import ProblemCollector


class HookPoint(StrEnum):
    BEFORE_SAVE = "before_save"        # step 4: may change the record
    VALIDATE = "validate"              # step 5: validation rules, after system validation
    AFTER_SAVE = "after_save"          # step 7: after-save triggers (after the roll-ups)
    WORKFLOW = "workflow"              # step 8: workflow rules, outbox rows
    BEFORE_DELETE = "before_delete"
    AFTER_DELETE = "after_delete"
    AFTER_COMMIT = "after_commit"      # step 9: outbox dispatch


@dataclass
class SaveContext:
    conn: Connection
    model: Any  # CompiledOrg
    object: Any  # CompiledObject
    actor: Actor
    operation: str  # "create" | "update" | "delete" | "undelete"
    record: dict[str, Any]
    prior: dict[str, Any] | None
    errors: ProblemCollector
    pointer: str = ""


Hook = Callable[[SaveContext], None]


@dataclass
class Hooks:
    _hooks: dict[HookPoint, list[Hook]] = field(default_factory=dict)

    def register(self, point: HookPoint, hook: Hook) -> None:
        self._hooks.setdefault(HookPoint(point), []).append(hook)

    def has(self, point: HookPoint) -> bool:
        return bool(self._hooks.get(point))

    def run(self, point: HookPoint, contexts: list[SaveContext]) -> None:
        for hook in self._hooks.get(point, ()):
            for ctx in contexts:
                hook(ctx)
