"""The named hook points of the record pipeline run in order, inside the transaction."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.platform.errors import ValidationFailed
from rapport.runtime.records.hooks import HookPoint, SaveContext
from tests.support.bundles import make_object, minimal

NAME = {"name": "name", "label": "Name", "type": "text", "required": True}


@pytest.fixture
def things(app: Any, org: Any) -> Any:
    org.metadata.apply(minimal(make_object("thing", NAME, {"name": "size", "label": "Size", "type": "integer"})),
                       author="t")
    return org


def test_hooks_run_in_pipeline_order(app: Any, things: Any) -> None:
    seen: list[str] = []

    def before(ctx: SaveContext) -> None:
        seen.append(f"before:{ctx.operation}")
        if ctx.record.get("name"):
            ctx.record["name"] = ctx.record["name"].upper()

    def validate(ctx: SaveContext) -> None:
        seen.append("validate")
        if (ctx.record.get("size") or 0) > 10:
            ctx.errors.add(ctx.pointer + "/size", "rules.too_big", "size must be at most 10")

    app.hooks.register(HookPoint.BEFORE_SAVE, before)
    app.hooks.register(HookPoint.VALIDATE, validate)
    app.hooks.register(HookPoint.AFTER_SAVE, lambda ctx: seen.append("after"))
    app.hooks.register(HookPoint.WORKFLOW, lambda ctx: seen.append("workflow"))
    app.hooks.register(HookPoint.AFTER_COMMIT, lambda ctx: seen.append("committed"))

    record = things.records().create("thing", {"name": "box", "size": 3})
    assert record["name"] == "BOX"
    assert seen == ["before:create", "validate", "after", "workflow", "committed"]

    seen.clear()
    with pytest.raises(ValidationFailed) as caught:
        things.records().create_many("thing", [{"name": "a", "size": 11}, {"size": 1, "name": ""}])
    # validation hooks add to the system errors; everything comes back together
    assert sorted((p.pointer, p.code) for p in caught.value.problems) == [
        ("/0/size", "rules.too_big"), ("/1/name", "records.required")]
    assert "after" not in seen and "committed" not in seen

    seen.clear()
    with pytest.raises(ValidationFailed) as caught:
        things.records().create("thing", {"name": "a", "size": "big"})
    assert [p.code for p in caught.value.problems] == ["records.wrong_type"]
    assert seen == []  # hooks never see a record whose input did not fit its types

    seen.clear()
    things.records().update("thing", record["id"], {"size": 4})
    assert seen == ["before:update", "validate", "after", "workflow", "committed"]
