"""Triggers: the object's active scripts of a kind, run at their step of the record pipeline.

``before_save`` (step 4: may change the record, or block the save with ``add_error``),
``after_save`` (step 7: after the write and the roll-ups; may write other records),
``before_delete`` and ``after_delete``. Per batch, not per record: the record service hands a
hook every record of one call (one record for a single create, up to 10,000 for a bulk
one); each script of the kind runs ONCE for the batch — one round trip to a worker — and the
worker runs the script's code once per record, with that record as ``record``. Scripts run in
bundle order; a before-save script sees the changes of the scripts before it.

Blocking: ``add_error`` in a before-save trigger joins the save's validation errors (each at
its record and field: ``/amount``, ``/3/amount`` in a batch); in the other triggers it fails
the operation with them. A raised error or a limit fails the operation (problem+json with
the script and line), and the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rapport.platform.errors import ProblemCollector, ValidationFailed
from rapport.sandbox.catalog import Script, catalog_of
from rapport.sandbox.host_calls import DataAccess
from rapport.sandbox.runner import Invocation, ScriptRunner

FIELD_ERROR = "sandbox.field_error"


class RecordBridge(Protocol):
    """What triggers need of the runtime, which the sandbox does not import (the runtime's
    ``rapport.runtime.script_host.Bridge``). ``ctx`` is a ``SaveContext``."""

    def record_json(self, ctx: Any) -> dict[str, Any]: ...

    def prior_json(self, ctx: Any) -> dict[str, Any] | None: ...

    def apply_changes(self, ctx: Any, changes: dict[str, Any], script: str) -> None: ...

    def data(self, ctx: Any, as_system: bool) -> DataAccess: ...

    def invocation(self, ctx: Any, script: Script, records: int) -> Invocation: ...


class Triggers:
    def __init__(self, runner: ScriptRunner, bridge: RecordBridge) -> None:
        self.runner = runner
        self.bridge = bridge

    def hooks(self) -> dict[str, Callable[[list[Any]], None]]:
        """The batch hook of each trigger kind, by hook point name."""
        return {kind: self._hook(kind) for kind in ("before_save", "after_save", "before_delete", "after_delete")}

    def _hook(self, kind: str) -> Callable[[list[Any]], None]:
        def hook(contexts: list[Any]) -> None:
            if contexts:
                self.run(kind, contexts)
        hook.__name__ = f"sandbox_{kind}"
        return hook

    def run(self, kind: str, contexts: list[Any]) -> None:
        first = contexts[0]
        scripts = catalog_of(first.model).trigger_scripts(first.object.name, kind)
        for script in scripts:
            self._run_script(kind, script, contexts)

    def _run_script(self, kind: str, script: Script, contexts: list[Any]) -> None:
        bridge = self.bridge
        first = contexts[0]
        inputs = {"object": first.object.name,
                  "records": [bridge.record_json(ctx) for ctx in contexts],
                  "olds": [bridge.prior_json(ctx) for ctx in contexts]}
        result = self.runner.run(bridge.invocation(first, script, len(contexts)), inputs,
                                 bridge.data(first, script.as_system))
        blocked = ProblemCollector()
        for entry in result.get("records") or ():
            index = entry.get("index")
            if not isinstance(index, int) or not 0 <= index < len(contexts):
                continue
            ctx = contexts[index]
            changes = entry.get("changes")
            if kind == "before_save" and isinstance(changes, dict) and changes:
                bridge.apply_changes(ctx, changes, script.key)
            target = ctx.errors if kind == "before_save" else blocked
            for error in entry.get("errors") or ():
                field = error.get("field")
                where = f"{ctx.pointer}/{field}" if field else ctx.pointer
                target.add(where, FIELD_ERROR, f"{error.get('message')} (script '{script.key}')")
        if blocked:
            what = "delete" if kind.endswith("delete") else "save"
            blocked.raise_if_any(ValidationFailed, f"script '{script.key}' refused to {what} the {first.object.name} "
                                 f"{'record' if len(contexts) == 1 else f'{len(contexts)} records'}",
                                 "records.validation_failed")
