"""Plan and apply a bundle in one transaction: the DDL, the moved-aside data and the revision.

Planning is a dry run of the very same steps inside a transaction that is always rolled
back, so the preview shows exactly what applying will do (row counts, refusals) and that
every DDL statement works. Applying runs them again for real, refuses while any step
refuses, asks for confirmation of data-losing steps, and stores the new revision in the
same transaction: on any failure nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.engine import Connection

from rapport.metadata.diff import diff
from rapport.metadata.model import EMPTY_BUNDLE, Bundle
from rapport.metadata.revisions import Revision, add_revision, current_number, get_revision
from rapport.platform.errors import ConfirmationRequired, Conflict, ConversionRefused, Problem
from rapport.platform.settings import Settings
from rapport.runtime.revision_lock import lock_for_change
from rapport.runtime.schema_sync.planner import Plan, rename_problems, steps_for
from rapport.runtime.schema_sync.recalculate import recalculations
from rapport.runtime.schema_sync.steps import Inspection, Progress, StepContext

BundleLoader = Any  # Callable[[dict], Bundle]


@dataclass(frozen=True)
class Applied:
    revision: Revision | None  # None when the bundle changed nothing
    plan: Plan
    notes: tuple[str, ...] = ()  # what the caller should know (e.g. from a restore)


def current_bundle(conn: Connection, load: BundleLoader) -> Bundle:
    number = current_number(conn)
    return load(get_revision(conn, number).bundle) if number else EMPTY_BUNDLE


def run_plan(conn: Connection, schema: str | None, settings: Settings, old: Bundle, new: Bundle,
             progress: Progress | None = None) -> Plan:
    """Inspect and apply every step, in order, on ``conn`` (the caller commits or rolls back)."""
    changes = diff(old, new)
    steps, problems = steps_for(changes)
    steps += recalculations(changes, new)  # roll-ups added or changed: last, once every column exists
    problems = rename_problems(old, new) + problems
    plan = Plan(changes, steps, problems=problems)
    ctx = StepContext(conn, schema, old, new, settings, current_number(conn) + 1)
    if progress is not None:
        ctx.progress = progress
    refused = bool(problems)
    for number, step in enumerate(steps, 1):
        try:
            inspection = step.inspect(ctx)
            plan.inspections.append(inspection)
            if inspection.refusals:
                refused = True
                continue
            step.apply(ctx)
        except SQLAlchemyError:
            if not refused:
                raise
            # a later step depended on a refused one; the refusals already explain why
            plan.steps = plan.steps[: len(plan.inspections)]
            break
        ctx.progress(step.describe(), number, len(steps))
    return plan


def check_plan(plan: Plan, confirm_data_loss: bool) -> None:
    if plan.refusals:
        raise ConversionRefused("the metadata change was refused: existing data does not fit it",
                                code="schema.conversion_refused", problems=plan.refusals,
                                details={"plan": plan.to_dict()})
    losing = plan.data_losing
    if losing and not confirm_data_loss:
        problems = [Problem("", "schema.data_losing_step", step.describe()) for step in losing]
        raise ConfirmationRequired(
            f"{len(losing)} step(s) would remove or cut existing data; confirm to apply them "
            "(the data is moved aside and can be restored until it is purged)",
            problems=problems, details={"plan": plan.to_dict()})


def preview(conn: Connection, schema: str | None, settings: Settings, load: BundleLoader,
            new: Bundle) -> Plan:
    """The plan for ``new``, from a dry run on ``conn``, which the caller rolls back."""
    lock_for_change(conn, schema)
    return run_plan(conn, schema, settings, current_bundle(conn, load), new)


def apply_bundle(conn: Connection, schema: str | None, settings: Settings, load: BundleLoader, new: Bundle,
                 *, author: str, message: str, confirm_data_loss: bool,
                 progress: Progress | None = None, expected_revision: int | None = None) -> Applied:
    """Apply ``new``; with ``expected_revision``, only if the org is still at that revision
    (a change previewed on revision 4 is not applied over someone else's revision 5)."""
    lock_for_change(conn, schema)
    if expected_revision is not None and (current := current_number(conn)) != expected_revision:
        raise Conflict(f"the metadata changed since this change was planned (revision {expected_revision}; "
                       f"it is now at revision {current}): plan it again", code="schema.revision_moved")
    plan = run_plan(conn, schema, settings, current_bundle(conn, load), new, progress)
    check_plan(plan, confirm_data_loss)
    if plan.is_empty:
        return Applied(None, plan)
    revision = add_revision(conn, new.without_renames().to_dict(), author, message, plan.step_dicts())
    return Applied(revision, plan)


__all__ = ["Applied", "Inspection", "apply_bundle", "check_plan", "current_bundle",
           "preview", "run_plan"]
