"""Loading bundles with the real field-type registry, and the checks only the runtime can do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rapport.metadata import Bundle, load_bundle
from rapport.platform.errors import InvalidRequest, Problem, ProblemCollector, ValidationFailed
from rapport.runtime.compiled import CompiledOrg, compile_org
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.formula_definitions import complete_formulas
from rapport.runtime.query.filters import compile_filter
from rapport.runtime.query.joins import JoinPaths
from rapport.runtime.rollup_definitions import complete_rollups
from rapport.sandbox.checks import script_problems


def load(data: Any, *, stored: bool = False) -> Bundle:
    """Validate ``data`` (a bundle as JSON) and return the frozen model, or raise every problem.

    Past the metadata loader, the filters of list views and roll-ups are compiled against
    the bundle's own objects, so a filter naming an unknown field or a wrong operator is
    refused when the metadata is saved, not when the list is first shown. Likewise every
    script's code is compiled under the sandbox's policy: one that does not compile is refused.

    ``stored``: a bundle an org already runs (a stored revision). Its scripts are not checked
    again: were a later version of the sandbox's policy to refuse one, the org would still
    work (that script fails when it runs, with its compile error) and its admin could change it.
    """
    if isinstance(data, Bundle):
        return data
    bundle = load_bundle(data, field_types=FIELD_TYPES)
    problems = ProblemCollector()
    bundle = complete_rollups(bundle, problems)  # return types, filters and chains of roll-ups
    bundle = complete_formulas(bundle, problems)  # every formula type-checked, return types filled in
    if not problems:  # filters are compiled against the org model, which needs formulas that check
        problems.extend(_filter_problems(bundle))
    if not stored:
        problems.extend(script_problems(bundle))  # every compile problem of every script, with line and column
    problems.raise_if_any(ValidationFailed, "metadata bundle is invalid", "metadata.invalid")
    return bundle


def load_stored(data: Any) -> Bundle:
    """A stored revision's bundle (see :func:`load`)."""
    return load(data, stored=True)


def _filters(bundle: Bundle) -> Iterator[tuple[str, Any, str]]:
    """(object, filter, pointer) of every stored filter."""
    for i, view in enumerate(bundle.list_views):
        if view.filter is not None:
            yield view.object, view.filter, f"/list_views/{i}/filter"
    for i, obj in enumerate(bundle.objects):
        for j, field in enumerate(obj.fields):
            if field.filter is not None and field.child_object:
                yield field.child_object, field.filter, f"/objects/{i}/fields/{j}/filter"


def _filter_problems(bundle: Bundle) -> list[Problem]:
    filters = list(_filters(bundle))
    if not filters:
        return []
    model: CompiledOrg = compile_org("check", 0, bundle)
    problems: list[Problem] = []
    for object_name, tree, at in filters:
        obj = model.objects.get(object_name)
        if obj is None:
            continue  # an unknown object is reported by the loader already
        try:
            compile_filter(tree, JoinPaths(model, obj), at=at)
        except InvalidRequest as error:
            problems.extend(error.problems)
    return problems
