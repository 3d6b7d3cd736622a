"""The object manager: list the org's objects, create one, edit one's properties, delete one.

    GET       /admin/objects                   every object: label, name, fields, links
    GET|POST  /admin/objects/new               create an object (with a required text field
                                               "Name" as its name field, as Salesforce does)
    GET|POST  /admin/objects/{object}          the object page: its properties (a form), its
                                               fields, layouts, list views and validation rules
    GET       /admin/objects/{object}/delete   the plan preview of deleting it (or what
                                               refers to it and stops the delete)

Every change builds the org's whole bundle as it would be and goes to the plan preview
(``metadata_changes.propose``); a form the loader refuses comes back with each problem at
its input and everything typed kept.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import ADMIN, current_bundle, propose
from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup.bundle_edits import object_index, without_object
from rapport.admin_ui.setup.field_options import Choice
from rapport.admin_ui.setup.forms import FormErrors, add_problems, humanise, name_problem, suggest_name
from rapport.admin_ui.setup.places import field_url, object_url, place_of
from rapport.metadata import schema
from rapport.platform.errors import NotFound, RapportError
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.fields import FIELD_TYPES

SHARING_LABELS = {
    "private": "Private: users see the records they own",
    "public_read": "Public read only: everyone reads every record, owners edit",
    "public_read_write": "Public read/write: everyone reads and edits every record",
}
#: the inputs of the object form, by the object's metadata key
OBJECT_INPUTS = {key: key for key in ("name", "label", "plural_label", "description", "sharing", "track_history",
                                      "searchable", "name_field")}
NAME_FIELD = "name"


def _property(key: str) -> dict[str, Any]:
    return dict(schema("object")["properties"][key])


def sharing_choices() -> list[Choice]:
    return [Choice(v, SHARING_LABELS.get(v, humanise(v))) for v in _property("sharing")["enum"]]


def compiled_object(request: Request) -> CompiledObject:
    name = request.path_params["object"]
    model = request.state.org.model()
    obj = model.objects.get(name)
    if obj is None:
        raise NotFound(f"there is no object '{name}'; see the list of objects in Setup", code="admin.unknown_object")
    return obj


# -- the list ---------------------------------------------------------------------------------

def object_list(request: Request) -> Response:
    model = request.state.org.model()
    objects = [{"name": o.name, "label": o.defn.label, "plural_label": o.defn.plural_label,
                "fields": len(o.defn.fields), "sharing": SHARING_LABELS.get(o.defn.sharing, o.defn.sharing),
                "url": object_url(o.name)} for o in model.objects.values()]
    return page(request, "admin/objects.html", objects=objects)


# -- create -----------------------------------------------------------------------------------

def new_object(request: Request) -> Response:
    if request.method == "GET":
        blank: dict[str, Any] = {
            "label": "", "name": "", "plural_label": "", "description": "", "sharing": _property("sharing")["default"],
            "track_history": bool(_property("track_history")["default"]),
            "searchable": bool(_property("searchable")["default"]), "name_field_label": "Name"}
        return _new_page(request, blank, FormErrors())
    form = request.state.form
    errors = FormErrors()
    data, typed = _read_properties(form, errors)
    name: str = form.get("name", "").strip() or suggest_name(data.get("label", ""))
    typed["name"] = name
    typed["name_field_label"] = form.get("name_field_label", "").strip()
    bundle = current_bundle(request)
    if data.get("label") or name:
        problem = name_problem(name)
        if problem is None and object_index(bundle, name) is not None:
            problem = f"There already is an object named '{name}'; choose another name"
        if problem:
            errors.add("name", problem)
    if errors:
        return _new_page(request, typed, errors, status=422)
    name_label = typed["name_field_label"] or "Name"
    obj = {"name": name, **data, "name_field": NAME_FIELD,
           "fields": [{"name": NAME_FIELD, "label": name_label, "type": "text", "required": True}]}
    bundle.setdefault("objects", []).append(obj)
    at = f"/objects/{len(bundle['objects']) - 1}"
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        add_problems(errors, error, bundle, at, {**OBJECT_INPUTS, "fields": "name_field_label"})
        return _new_page(request, typed, errors, status=422)
    return propose(request, bundle, summary=f"Create object '{data['label']}'", back="/admin/objects")


def _new_page(request: Request, typed: dict[str, Any], errors: FormErrors, status: int = 200) -> Response:
    return page(request, "admin/objects_new.html", status=status, typed=typed, errors=errors,
                sharing=sharing_choices(), help=_help())


def _read_properties(form: Any, errors: FormErrors) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object's properties from its form (metadata, and what the form held)."""
    typed = {"label": form.get("label", "").strip(), "plural_label": form.get("plural_label", "").strip(),
             "description": form.get("description", "").replace("\r\n", "\n").strip(),
             "sharing": form.get("sharing", ""), "track_history": form.get("track_history") in ("true", "on"),
             "searchable": form.get("searchable") in ("true", "on")}
    data: dict[str, Any] = {}
    if typed["label"]:
        data["label"] = typed["label"]
    else:
        errors.add("label", "Enter a label: the object's name as people see it, e.g. 'Invoice'")
    for key in ("plural_label", "description"):
        if typed[key]:
            data[key] = typed[key]
    allowed = _property("sharing")["enum"]
    if typed["sharing"] in allowed:
        data["sharing"] = typed["sharing"]
    else:
        errors.add("sharing", f"Choose who sees the records: {', '.join(allowed)}")
    data["track_history"], data["searchable"] = typed["track_history"], typed["searchable"]
    return data, typed


def _help() -> dict[str, str]:
    return {key: str(_property(key).get("description", "")) for key in OBJECT_INPUTS}


# -- the object page --------------------------------------------------------------------------

def object_page(request: Request) -> Response:
    obj = compiled_object(request)
    if request.method == "GET":
        defn = obj.defn
        shown: dict[str, Any] = {
            "label": defn.label, "plural_label": defn.plural_label, "description": defn.description or "",
            "sharing": str(defn.sharing), "track_history": defn.track_history, "searchable": defn.searchable,
            "name_field": defn.name_field or ""}
        return _object_page(request, obj, shown, FormErrors())
    form = request.state.form
    errors = FormErrors()
    data, typed = _read_properties(form, errors)
    typed["name_field"] = form.get("name_field", "")
    titles = [c.value for c in _title_choices(obj)]
    if typed["name_field"] and typed["name_field"] not in titles:
        errors.add("name_field", f"'{typed['name_field']}' is not a text field of {obj.defn.label}; choose one listed")
    if errors:
        return _object_page(request, obj, typed, errors, status=422)
    bundle = current_bundle(request)
    index = object_index(bundle, obj.name)
    if index is None:
        raise NotFound(f"there is no object '{obj.name}'", code="admin.unknown_object")
    changed = bundle["objects"][index]
    for key in ("plural_label", "description", "name_field"):
        changed.pop(key, None)
    changed.update(data)
    if typed["name_field"]:
        changed["name_field"] = typed["name_field"]
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        add_problems(errors, error, bundle, f"/objects/{index}", OBJECT_INPUTS)
        return _object_page(request, obj, typed, errors, status=422)
    return propose(request, bundle, summary=f"Change object '{data['label']}'", back=object_url(obj.name))


def _object_page(request: Request, obj: CompiledObject, typed: dict[str, Any], errors: FormErrors,
                 status: int = 200) -> Response:
    bundle = request.state.org.model().bundle
    base = object_url(obj.name)
    fields = []
    for defn in obj.defn.fields:
        field_type = FIELD_TYPES[defn.type]
        kind = humanise(defn.type)
        detail = defn.target or defn.return_type or defn.child_object
        fields.append({"label": defn.label, "name": defn.name, "url": field_url(obj.name, defn.name),
                       "type": f"{kind} ({detail})" if detail else kind,
                       "flags": [flag for flag, on in (("required", field_type.is_required(defn)),
                                                        ("unique", defn.unique), ("indexed", defn.indexed),
                                                        ("external id", defn.external_id),
                                                        ("history", defn.track_history)) if on],
                       "is_title": defn.name == obj.defn.name_field})
    components = {
        "layouts": [(c.name, c.name) for c in bundle.layouts if c.object == obj.name],
        "list_views": [(c.name, c.label) for c in bundle.list_views if c.object == obj.name],
        "validation_rules": [(c.name, c.get("message", c.name)) for c in bundle.validation_rules
                             if c.object == obj.name],
    }
    children = [{"object": model_label(request, child), "field": f.defn.label, "url": field_url(child, f.name)}
                for child, f in obj.children]
    return page(request, "admin/objects_page.html", status=status, obj=obj, base=base, typed=typed, errors=errors,
                fields=fields, components=components, children=children, sharing=sharing_choices(),
                titles=_title_choices(obj), help=_help())


def model_label(request: Request, name: str) -> str:
    obj = request.state.org.model().objects.get(name)
    return obj.defn.label if obj is not None else name


def _title_choices(obj: CompiledObject) -> list[Choice]:
    """The fields that can title the object's records: its stored fields whose values are text."""
    return [Choice(f.name, f"{f.label} ({f.name})") for f in obj.defn.fields
            if FIELD_TYPES[f.type].stored and FIELD_TYPES[f.type].formula_kind(f) == "text"]


# -- delete -----------------------------------------------------------------------------------

def delete_object(request: Request) -> Response:
    obj = compiled_object(request)
    bundle = without_object(current_bundle(request), obj.name)
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        return refused(request, error, bundle, title=f"Object {obj.defn.label} cannot be deleted yet",
                       back=object_url(obj.name))
    return propose(request, bundle, summary=f"Delete object '{obj.defn.label}'", back="/admin/objects")


def refused(request: Request, error: RapportError, bundle: dict[str, Any], *, title: str, back: str) -> Response:
    """The page saying why a delete cannot be planned: each problem, and where it is."""
    problems = [{"message": p.message, "place": place_of(bundle, p.pointer)} for p in error.problems]
    return page(request, "admin/objects_delete.html", status=409, title=title, message=error.message,
                problems=problems, back=back)


ROUTES = [
    PageRoute("/admin/objects", object_list, needs=ADMIN),
    PageRoute("/admin/objects/new", new_object, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}", object_page, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}/delete", delete_object, needs=ADMIN),
]
