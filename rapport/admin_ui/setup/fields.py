"""The field editor: add a field of any registered type, change one, delete one.

    GET       /admin/objects/{object}/fields/new               the type picker; with ?type=…
                                                               that type's form
    POST      /admin/objects/{object}/fields/new               add the field (→ plan preview)
    GET|POST  /admin/objects/{object}/fields/{field}           change its label, options or type
    GET       /admin/objects/{object}/fields/{field}/delete    the plan preview of deleting it

The form has the keys every field has (label, name, flags, help, default) and the options
of its type (``field_options``: from the metadata format, never a table of types here).
What the form itself can tell is wrong (no label, a bad or taken name, a number that is
not one) shows at its input before anything is planned; then the bundle is planned and
the loader's problems show at their inputs too; only a bundle that loads goes on to the
plan preview. A GET's query parameters fill the form in (``?type=text&label=Region``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import ADMIN, current_bundle, propose
from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup.bundle_edits import field_index, object_index, without_field
from rapport.admin_ui.setup.field_options import (
    BLANK_VALUE_ROWS, Choice, OptionKind, choices, definition, has_option_kind, input_of, option_keys, options_of,
    parse_options, type_description, type_names, typed_options,
)
from rapport.admin_ui.setup.formula_check import check_expression
from rapport.admin_ui.setup.forms import FormErrors, add_problems, field_name_problem, humanise, suggest_name
from rapport.admin_ui.setup.objects import compiled_object, refused
from rapport.admin_ui.setup.places import field_url, object_url
from rapport.admin_ui.widgets import field_view, widget_of
from rapport.metadata import schema
from rapport.metadata.model import FieldDef
from rapport.platform.errors import NotFound, Problem, RapportError
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.fields import FIELD_TYPES, FieldValueError

Form = ImmutableMultiDict[str, str]
_LABELS = {"label": "Label", "name": "API name", "help_text": "Help text", "description": "Description",
           "default": "Default value", "default_formula": "Default formula", "external_id": "External id"}
TEXTS = ("help_text", "description")


@dataclass
class Draft:
    """A field as its form holds it: the metadata, what was typed, and what is wrong."""

    type_name: str
    data: dict[str, Any]
    typed: dict[str, Any]
    errors: FormErrors = field(default_factory=FormErrors)


# -- what a type's form has -----------------------------------------------------------------

@cache
def _common() -> dict[str, Any]:
    return dict(schema("field")["properties"])


def flags(type_name: str) -> list[tuple[str, str, str]]:
    """(key, label, help) of the yes/no keys a field of ``type_name`` can have."""
    return [(key, _LABELS.get(key, humanise(key)), str(prop.get("description", "")))
            for key, prop in _common().items()
            if prop.get("type") == "boolean" and key not in _refused_flags(type_name)]


def _refused_flags(type_name: str) -> set[str]:
    """The flags a type's fields cannot have (computed types: required, unique…)."""
    return set(getattr(FIELD_TYPES[type_name], "refused_flags", ()))


def takes_default(type_name: str) -> bool:
    """A literal default, entered with the type's own widget: for types callers write, except
    those whose options carry their defaults (picklist values) or that point at records."""
    return FIELD_TYPES[type_name].writable and not has_option_kind(type_name, OptionKind.VALUES) \
        and not has_option_kind(type_name, OptionKind.OBJECT)


def takes_default_formula(type_name: str) -> bool:
    return FIELD_TYPES[type_name].writable


def common_inputs(type_name: str) -> set[str]:
    """The keys every field has that the form of ``type_name`` has an input for."""
    common = {"name", "label", "type", *TEXTS, *(key for key, _, _ in flags(type_name))}
    if takes_default(type_name):
        common.add("default")
    if takes_default_formula(type_name):
        common.add("default_formula")
    return common


def _input_of(type_name: str) -> Any:
    common = common_inputs(type_name)
    return lambda key: key if key in common else input_of(type_name, key)


def _kept_keys(existing: dict[str, Any], type_name: str) -> dict[str, Any]:
    """What a field has that its form does not show (a picklist's literal ``default``, written
    by hand or by a package) and a field of ``type_name`` can still have: kept as it is."""
    shown = common_inputs(type_name) | option_keys(type_name)
    allowed = (set(_common()) - _refused_flags(type_name)) | option_keys(type_name)
    return {key: value for key, value in existing.items()
            if key in allowed and key not in shown and key != "renamed_from"}


def retype_choices(type_name: str) -> list[Choice]:
    """A field's own type and the types that can take over its values."""
    return [Choice(t, humanise(t)) for t in type_names()
            if t == type_name or type_name in FIELD_TYPES[t].converts_from]


# -- reading the form -------------------------------------------------------------------------

def read_draft(form: Form, type_name: str, *, fixed_name: str | None, taken: Collection[str]) -> Draft:
    errors = FormErrors()
    options, typed = parse_options(type_name, form, errors)
    label = form.get("label", "").strip()
    typed.update(label=label, type=type_name)
    if not label:
        errors.add("label", "Enter a label: the field's name as people see it, e.g. 'Close date'")
    if fixed_name is not None:
        name = typed["name"] = fixed_name
    else:
        given = form.get("name", "").strip()
        name = typed["name"] = given or suggest_name(label)
        if label or given:
            problem = field_name_problem(name)
            if problem is None and name in taken:
                problem = f"The object already has a field named '{name}'; choose another name"
            if problem:
                errors.add("name", problem)
    data: dict[str, Any] = {"name": name, "label": label, "type": type_name}
    for key, _, _ in flags(type_name):
        typed[key] = form.get(key) in ("true", "on")
        if typed[key]:
            data[key] = True
    texts = (*TEXTS, "default_formula") if takes_default_formula(type_name) else TEXTS
    for key in texts:
        typed[key] = form.get(key, "").replace("\r\n", "\n").strip()
        if typed[key]:
            data[key] = typed[key]
    data.update(options)
    if takes_default(type_name):
        _read_default(form, type_name, data, typed, errors)
    return Draft(type_name, data, typed, errors)


def _read_default(form: Form, type_name: str, data: dict[str, Any], typed: dict[str, Any],
                  errors: FormErrors) -> None:
    field_type = FIELD_TYPES[type_name]
    given = typed["default"] = widget_of(field_type).parse(form, "default")
    if given is None or given == [] or given == "":
        return
    try:
        defn = definition(data)
        value = field_type.to_json(field_type.coerce(given, defn), defn)
        unset = field_type.to_json(field_type.default_value(defn), defn)
    except FieldValueError as error:
        errors.add("default", f"Default value: {error.message}")
        return
    except (ArithmeticError, TypeError, ValueError):
        errors.add("default", "Default value: set the field's options first; this value does not fit them")
        return
    if value is not None and value != unset:
        data["default"] = value


def draft_of(data: dict[str, Any]) -> Draft:
    """The draft of a field's metadata as stored (what its form shows when opened)."""
    type_name = data["type"]
    typed = typed_options(type_name, data)
    typed.update(name=data["name"], label=data.get("label", ""), type=type_name,
                 **{key: bool(data.get(key, False)) for key, _, _ in flags(type_name)},
                 **{key: data.get(key, "") for key in (*TEXTS, "default_formula")})
    typed["default"] = data.get("default")
    return Draft(type_name, dict(data), typed)


def _filled_in(draft: Draft, query: Any) -> Draft:
    for key, value in query.items():
        if isinstance(draft.typed.get(key), str):
            draft.typed[key] = value
    return draft


def _unchecked(draft: Draft) -> Draft:
    """The draft shown again to go on editing (more rows of values): nothing is checked yet."""
    draft.errors = FormErrors()
    return draft


def _kept_for_new_type(draft: Draft, form: Form) -> Draft:
    """After a change of type: the options the form had keep their values, the others start
    from the new type's defaults; nothing is checked yet."""
    defaults = typed_options(draft.type_name, None)
    posted = set(form.keys())
    for option in options_of(draft.type_name):
        if option.input not in posted and not any(k.startswith(option.input + "-") for k in posted):
            draft.typed[option.input] = defaults[option.input]
    return _unchecked(draft)


# -- pages ------------------------------------------------------------------------------------

def new_field(request: Request) -> Response:
    obj = compiled_object(request)
    source = request.state.form if request.method == "POST" else request.query_params
    type_name = source.get("type", "")
    if type_name not in FIELD_TYPES:
        kinds = [{"name": t, "label": humanise(t), "description": type_description(t),
                  "url": f"{object_url(obj.name)}/fields/new?type={t}"} for t in type_names()]
        return page(request, "admin/field_types.html", obj=obj, kinds=kinds, base=object_url(obj.name),
                    status=200 if not type_name else 422, unknown=type_name)
    if request.method == "GET":
        draft = _filled_in(draft_of({"name": "", "type": type_name}), request.query_params)
        return _form_page(request, obj, draft, existing=None)
    form = request.state.form
    draft = read_draft(form, type_name, fixed_name=None, taken=obj.fields.keys())
    if form.get("action") == "more_values":
        return _form_page(request, obj, _unchecked(draft), existing=None, more_rows=True)
    if draft.errors:
        return _form_page(request, obj, draft, existing=None, status=422)
    bundle = current_bundle(request)
    index = _index_of(bundle, obj)
    bundle["objects"][index].setdefault("fields", []).append(draft.data)
    at = f"/objects/{index}/fields/{len(bundle['objects'][index]['fields']) - 1}"
    return _planned(request, obj, draft, bundle, at, None,
                    summary=f"Add field '{draft.data['label']}' to {obj.defn.label}")


def edit_field(request: Request) -> Response:
    obj = compiled_object(request)
    bundle = current_bundle(request)
    index = _index_of(bundle, obj)
    fields = bundle["objects"][index]["fields"]
    position = field_index(bundle["objects"][index], request.path_params["field"])
    if position is None:
        raise NotFound(f"object '{obj.name}' has no field '{request.path_params['field']}'",
                       code="admin.unknown_field")
    existing = fields[position]
    if request.method == "GET":
        return _form_page(request, obj, _filled_in(draft_of(existing), request.query_params), existing=existing)
    form = request.state.form
    allowed = [c.value for c in retype_choices(existing["type"])]
    type_name = form.get("type", existing["type"])
    if type_name not in allowed:
        type_name = existing["type"]
    draft = read_draft(form, type_name, fixed_name=existing["name"], taken=())
    if type_name != form.get("form_type", existing["type"]):
        return _form_page(request, obj, _kept_for_new_type(draft, form), existing=existing,
                          notice=f"Set the options of a {humanise(type_name).lower()} field, then review the change.")
    if form.get("action") == "more_values":
        return _form_page(request, obj, _unchecked(draft), existing=existing, more_rows=True)
    if draft.errors:
        return _form_page(request, obj, draft, existing=existing, status=422)
    fields[position] = {**draft.data, **_kept_keys(existing, type_name)}
    return _planned(request, obj, draft, bundle, f"/objects/{index}/fields/{position}", existing,
                    summary=f"Change field '{draft.data['label']}' of {obj.defn.label}")


def delete_field(request: Request) -> Response:
    obj = compiled_object(request)
    name = request.path_params["field"]
    defn = obj.defn.field(name)
    if defn is None:
        raise NotFound(f"object '{obj.name}' has no field '{name}'", code="admin.unknown_field")
    title = f"Field {defn.label} of {obj.defn.label} cannot be deleted yet"
    current = current_bundle(request)
    if obj.defn.name_field == name:
        index = _index_of(current, obj)
        problem = Problem(f"/objects/{index}/name_field", "admin.name_field",
                          f"'{defn.label}' is the name field of {obj.defn.label}, which titles its records; "
                          "choose another name field on the object's page first")
        return refused(request, RapportError(problem.message, problems=[problem]), current, title=title,
                       back=field_url(obj.name, name))
    bundle = without_field(current, obj.name, name)
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        return refused(request, error, bundle, title=title, back=field_url(obj.name, name))
    return propose(request, bundle, summary=f"Delete field '{defn.label}' of {obj.defn.label}",
                   back=object_url(obj.name))


def _index_of(bundle: dict[str, Any], obj: CompiledObject) -> int:
    index = object_index(bundle, obj.name)
    if index is None:
        raise NotFound(f"there is no object '{obj.name}'", code="admin.unknown_object")
    return index


def _planned(request: Request, obj: CompiledObject, draft: Draft, bundle: dict[str, Any], at: str,
             existing: dict[str, Any] | None, *, summary: str) -> Response:
    """The plan preview of ``bundle``, or the form again with the loader's problems."""
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        add_problems(draft.errors, error, bundle, at, _input_of(draft.type_name))
        return _form_page(request, obj, draft, existing=existing, status=422)
    return propose(request, bundle, summary=summary, back=object_url(obj.name))


def _form_page(request: Request, obj: CompiledObject, draft: Draft, *, existing: dict[str, Any] | None,
               status: int = 200, more_rows: bool = False, notice: str | None = None) -> Response:
    model = request.state.org.model()
    type_name = draft.type_name
    options = [(o, choices(o, model, obj.name, draft.typed)) for o in options_of(type_name)]
    base = object_url(obj.name)
    action = field_url(obj.name, existing["name"]) if existing else f"{base}/fields/new"
    child_field = next((o.input for o, _ in options if o.kind is OptionKind.CHILD_FIELD), None)
    return page(request, "admin/field_form.html", status=status, obj=obj, base=base, action=action,
                draft=draft, typed=draft.typed, errors=draft.errors, existing=existing,
                type_label=humanise(type_name), type_help=type_description(type_name),
                retype=retype_choices(existing["type"]) if existing else [],
                options=options, child_field_input=child_field, flags=flags(type_name), labels=_LABELS, help=_help(),
                default_view=_default_view(draft), takes_default_formula=takes_default_formula(type_name),
                formula=_formula_check(model, obj, draft), notice_here=notice,
                blank_rows=BLANK_VALUE_ROWS * (2 if more_rows else 1))


def _help() -> dict[str, str]:
    return {key: str(prop.get("description", "")) for key, prop in _common().items()}


def _default_view(draft: Draft) -> Any:
    """The default value's input: the type's own widget (a date picker for a date …)."""
    if not takes_default(draft.type_name):
        return None
    try:
        defn = definition({**draft.data, "default": None})
    except (TypeError, ValueError):
        defn = FieldDef("default", draft.type_name, "Default value")
    error = draft.errors.at.get("default")
    shown = replace(defn, name="default", label=_LABELS["default"], required=False, help_text=_help()["default"])
    return field_view(shown, FIELD_TYPES[draft.type_name], draft.typed.get("default"),
                      error=error.message if error else None)


def _formula_check(model: Any, obj: CompiledObject, draft: Draft) -> Any:
    """The live check's first answer, for a form that has an expression (unless the form
    shows the loader's problem with it already)."""
    if not has_option_kind(draft.type_name, OptionKind.FORMULA) or "expression" in draft.errors.at:
        return None
    scale = str(draft.typed.get("scale") or "")
    typed = draft.typed
    return check_expression(model.bundle, obj.defn, str(typed.get("name") or ""), str(typed.get("expression") or ""),
                            str(typed.get("return_type") or "") or None, int(scale) if scale.isdigit() else None)


ROUTES = [
    PageRoute("/admin/objects/{object}/fields/new", new_field, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}/fields/{field}", edit_field, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}/fields/{field}/delete", delete_field, needs=ADMIN),
]
