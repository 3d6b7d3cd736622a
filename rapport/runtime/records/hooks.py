"""Named points in the record pipeline where later areas plug in.

Triggers (sandbox), validation rules (formulas), workflow and the outbox register here;
the record service runs them in the order of ARCHITECTURE.md. (Roll-up summaries are no
hook: the service recomputes them itself at the start of step 7, see ``rollups``.) A hook
receives the :class:`SaveContext` of one record and may change ``record`` (before_save),
add errors (validate), or write more rows through ``ctx.conn`` (after_save, workflow). A
batch hook (``register_batch``) receives the contexts of a whole batch at once, so that it can
serve them in one go (the sandbox's triggers: one round trip to a worker per batch).
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
    #: the transaction (``rapport.runtime.org.Tx``): its runtime, per-transaction state
    tx: Any = None


Hook = Callable[[SaveContext], None]
BatchHook = Callable[[list[SaveContext]], None]


@dataclass
class Hooks:
    _hooks: dict[HookPoint, list[BatchHook]] = field(default_factory=dict)

    def register(self, point: HookPoint, hook: Hook) -> None:
        """Run ``hook`` on each record's context in turn."""
        def each(contexts: list[SaveContext]) -> None:
            for ctx in contexts:
                hook(ctx)
        self.register_batch(point, each)

    def register_batch(self, point: HookPoint, hook: BatchHook) -> None:
        """Run ``hook`` once per batch, on the contexts of all its records."""
        self._hooks.setdefault(HookPoint(point), []).append(hook)

    def has(self, point: HookPoint) -> bool:
        return bool(self._hooks.get(point))

    def run(self, point: HookPoint, contexts: list[SaveContext]) -> None:
        for hook in self._hooks.get(point, ()):
            hook(contexts)
