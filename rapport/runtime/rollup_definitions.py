"""Roll-up definitions past the metadata loader: return types, filters and chains.

The metadata loader checks each roll-up's own options (``RollupType.check_options``). What
needs the whole bundle and the runtime is done here, when ``loading.load`` reads a bundle:

- ``return_type`` and ``scale`` follow from what a roll-up summarises: count is an
  integer; sum, min and max have the summarised field's type (and scale), so dates stay
  dates. They are filled in; a value an admin gives that disagrees is a problem.
- A roll-up's filter names only stored fields of the child object itself: a dotted path
  (``account.industry``) or a formula would change without any write of the child, and
  the roll-up could not be kept exact.
- A roll-up that summarises or filters on another roll-up depends on it. Such chains end
  within :data:`MAX_CHAIN` levels and never go round.
"""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Iterator

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem, ProblemCollector
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.query.filters import condition_fields

#: how many roll-ups may feed each other: a roll-up of plain fields is level 1
MAX_CHAIN = 8

RollupKey = tuple[str, str]  # (object, field)


def is_rollup(defn: FieldDef) -> bool:
    return bool(FIELD_TYPES[defn.type].recalculated_on)


def watched_fields(defn: FieldDef) -> frozenset[str]:
    """The child object's fields a roll-up's value is computed from: its relationship field,
    the summarised field and every field its filter names."""
    names = {defn.relationship_field, defn.field, *(path for path, _ in condition_fields(defn.filter))}
    return frozenset(name for name in names if name)


def rollups_of(bundle: Bundle) -> Iterator[tuple[ObjectDef, FieldDef, str]]:
    """(parent object, roll-up field, JSON pointer) of every roll-up in the bundle."""
    for i, obj in enumerate(bundle.objects):
        for j, f in enumerate(obj.fields):
            if is_rollup(f):
                yield obj, f, f"/objects/{i}/fields/{j}"


def depends_on(bundle: Bundle, defn: FieldDef) -> list[RollupKey]:
    """The roll-ups of the child object that roll-up ``defn`` summarises or filters on."""
    child = bundle.object(defn.child_object or "")
    if child is None:
        return []
    return [(child.name, name) for name in sorted(watched_fields(defn))
            if (f := child.field(name)) is not None and is_rollup(f)]


def complete_rollups(bundle: Bundle, problems: ProblemCollector) -> Bundle:
    """``bundle`` with every roll-up's return type filled in; problems go to ``problems``."""
    found = list(rollups_of(bundle))
    if not found:
        return bundle
    for obj, defn, at in found:
        problems.extend(_filter_problems(bundle, obj, defn, at))
    chain_problems = _chain_problems(bundle, found)
    problems.extend(chain_problems)
    if chain_problems:
        return bundle  # return types of a circle cannot be worked out
    filled: dict[RollupKey, FieldDef] = {}
    for obj, defn, at in found:
        value = _value_type(bundle, obj, defn, at, problems)
        if value is None:
            continue
        return_type, scale = value
        for key, wanted, given in (("return_type", return_type, defn.return_type), ("scale", scale, defn.scale)):
            if given is not None and given != wanted:
                problems.add(f"{at}/{key}", "metadata.invalid",
                             f"roll-up '{obj.name}.{defn.name}' {_what(defn)}, so its {key} is {wanted!r}, "
                             f"not {given!r}; leave {key} out and it is filled in")
        derived = {key for key, given in (("return_type", defn.return_type), ("scale", defn.scale)) if given is None}
        filled[(obj.name, defn.name)] = replace(defn, return_type=return_type, scale=scale,
                                                derived=defn.derived | derived)
    objects = tuple(
        replace(obj, fields=tuple(filled.get((obj.name, f.name), f) for f in obj.fields))
        if any(o == obj.name for o, _ in filled) else obj
        for obj in bundle.objects
    )
    return replace(bundle, objects=objects)


def chain_levels(bundle: Bundle) -> dict[RollupKey, int]:
    """Each roll-up's level: 1 over plain fields, one more than the highest roll-up it uses.

    For a bundle that loaded without problems (so without circles).
    """
    levels: dict[RollupKey, int] = {}

    def level(key: RollupKey, depth: int) -> int:
        if key not in levels:
            obj = bundle.object(key[0])
            defn = obj.field(key[1]) if obj is not None else None
            inner = depends_on(bundle, defn) if defn is not None and depth <= MAX_CHAIN else []
            levels[key] = 1 + max((level(k, depth + 1) for k in inner), default=0)
        return levels[key]

    for obj, defn, _ in rollups_of(bundle):
        level((obj.name, defn.name), 0)
    return levels


# -- the checks ---------------------------------------------------------------------------

def _what(defn: FieldDef) -> str:
    if defn.function == "count":
        return "counts records"
    return f"takes the {defn.function} of '{defn.child_object}.{defn.field}'"


def _filter_problems(bundle: Bundle, obj: ObjectDef, defn: FieldDef, at: str) -> Iterator[Problem]:
    child = bundle.object(defn.child_object or "")
    if child is None:
        return
    summarised = child.field(defn.field or "")
    if summarised is not None and not FIELD_TYPES[summarised.type].stored:
        yield Problem(f"{at}/field", "metadata.invalid",
                      f"roll-up '{obj.name}.{defn.name}' cannot summarise '{child.name}.{summarised.name}': "
                      f"it is a {summarised.type} field, computed rather than stored")
    for path, pointer in condition_fields(defn.filter, f"{at}/filter"):
        if "." in path:
            yield Problem(pointer, "metadata.invalid",
                          f"the filter of roll-up '{obj.name}.{defn.name}' can name only fields of "
                          f"'{child.name}' itself, not {path!r}: a change there is no write of a "
                          f"'{child.name}' record, so the roll-up would go stale")
            continue
        named = child.field(path)
        if named is not None and not FIELD_TYPES[named.type].stored:
            yield Problem(pointer, "metadata.invalid",
                          f"the filter of roll-up '{obj.name}.{defn.name}' cannot use '{child.name}.{path}': "
                          f"it is a {named.type} field, computed rather than stored")


def _chain_problems(bundle: Bundle, found: list[tuple[ObjectDef, FieldDef, str]]) -> list[Problem]:
    """Circles of roll-ups, and chains deeper than :data:`MAX_CHAIN`, each reported once."""
    pointers = {(obj.name, defn.name): at for obj, defn, at in found}
    problems: list[Problem] = []
    reported: set[RollupKey] = set()

    def walk(trail: list[RollupKey]) -> None:
        key = trail[-1]
        obj = bundle.object(key[0])
        defn = obj.field(key[1]) if obj is not None else None
        if defn is None or key in reported:
            return
        for inner in depends_on(bundle, defn):
            if inner in trail:
                circle = trail[trail.index(inner):] + [inner]
                reported.update(circle)
                names = " → ".join(f"'{o}.{f}'" for o, f in circle)
                problems.append(Problem(pointers[inner], "metadata.rollup_cycle",
                                        f"roll-ups {names} depend on each other in a circle, so none "
                                        "of them can be computed"))
                return
            if len(trail) >= MAX_CHAIN:
                reported.add(trail[0])
                names = " → ".join(f"'{o}.{f}'" for o, f in trail + [inner])
                problems.append(Problem(pointers[trail[0]], "metadata.rollup_too_deep",
                                        f"roll-ups {names} feed each other more than {MAX_CHAIN} levels deep; "
                                        f"at most {MAX_CHAIN} are allowed"))
                return
            walk(trail + [inner])

    for obj, defn, _ in found:
        walk([(obj.name, defn.name)])
    return problems


def _value_type(bundle: Bundle, obj: ObjectDef, defn: FieldDef, at: str,
                problems: ProblemCollector | None, depth: int = 0) -> tuple[str, int | None] | None:
    """(type, scale) of a roll-up's values, or ``None`` when its definition is broken."""
    if defn.function == "count":
        return "integer", None
    child = bundle.object(defn.child_object or "")
    summarised = child.field(defn.field or "") if child is not None else None
    if child is None or summarised is None or depth > MAX_CHAIN:
        return None  # reported by the roll-up's own checks, or as a chain
    if not is_rollup(summarised):
        return _summed(defn, summarised.type, summarised.scale)
    inner = _value_type(bundle, child, summarised, at, None, depth + 1)
    if inner is None:
        return None
    allowed = FIELD_TYPES[inner[0]].aggregates
    if defn.function not in allowed:
        if problems is not None:
            problems.add(f"{at}/function", "metadata.invalid",
                         f"roll-up '{obj.name}.{defn.name}' cannot {defn.function} roll-up "
                         f"'{child.name}.{summarised.name}', whose values are {inner[0]}; "
                         f"it can {', '.join(sorted(allowed))}")
        return None
    return _summed(defn, *inner)


def _summed(defn: FieldDef, type_name: str, scale: int | None) -> tuple[str, int | None]:
    """The type of a roll-up's values: a sum may need a wider type than its field's."""
    if defn.function == "sum":
        wider = FIELD_TYPES[type_name].sum_type
        if wider is not None:
            return wider, scale or 0
    return type_name, scale
