"""The create and edit forms of a record, from its layout.

    GET  /o/{object}/new         a new record; query parameters pre-fill fields (``?account=<id>``)
    POST /o/{object}/new         create it as the user → the record page, or the form with the errors
    GET  /o/{object}/{id}/edit   the record's form, at its current version
    POST /o/{object}/{id}/edit   save the fields the user changed → the record page

Records are written through the record service as the user, so the form and the API share
every check. A failed save shows each problem at its field (the layout's own checks and the
service's together) and a summary at the top, with everything typed kept. An edit whose record
changed since the form was opened is not saved: the form says who changed what, keeps what the
user typed, and moves to the current version, so that saving again deliberately overwrites.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.records.form_input import (
    OPENED, VERSION, FormField, FormSection, Locked, Posted, fillable, form_sections, opened_values, read_opened,
    read_posted, read_version, same_value,
)
from rapport.admin_ui.records.layouts import layout_for
from rapport.admin_ui.records.reading import people, read_record, require_changeable, titles_by_id, view_of
from rapport.admin_ui.records.views import edit_url, list_url, new_url, record_url, title_field, title_of
from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.widgets import FieldView, field_view, shown_as
from rapport.platform.actor import Actor
from rapport.platform.errors import Problem, StaleVersion, ValidationFailed
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, CompiledObject
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.permissions import Access, access_for
from rapport.runtime.records.service import RecordService

#: a service message about a field: "field 'amount' on object 'deal': expected a number"
_ABOUT_FIELD = re.compile(r"^field '([a-z0-9_]+)' on object '[a-z0-9_]+'(: )?")


class _FormRefused(Exception):
    """The form's own checks failed: the service's write is rolled back."""


def new_record(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    with runtime.reading() as tx:
        model = tx.model
        obj = model.object(request.path_params["object"])
        access = access_for(model, actor)
        access.require(obj.name, "create")
        layout = layout_for(model, obj, access)
        params = request.query_params
        placed = {p.name for p in layout.fields()}
        extra = tuple(name for name in fillable(obj, access, params) if name not in placed)
        sections = form_sections(layout, obj, access, extra)
        fields = _fields(sections)
        initial = _initial(fields, params)
        titles = _titles(request, tx, fields, initial)
        form = _Form(obj, access, sections, model, heading=f"New {obj.defn.label.lower()}",
                     action=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
                     cancel=list_url(obj.name))
        if request.method != "POST":
            return form.render(request, initial, titles, opened=initial)
        opened = read_opened(request.state.form, initial)
        posted = read_posted(request, tx, fields, opened, creating=True)
    try:
        record = _write(runtime, actor, posted, lambda records: records.create(obj.name, posted.changes))
    except ValidationFailed as error:
        return form.render(request, {**opened, **posted.shown}, {**titles, **posted.titles}, opened=opened,
                           problems=list(error.problems), status=error.status)
    title = title_of(record, title_field(obj, access))
    return redirect(request, record_url(obj.name, record["id"]), f"Created {obj.defn.label.lower()} '{title}'.")


def edit_record(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    record_id = request.path_params["id"]
    with runtime.reading() as tx:
        model = tx.model
        obj = model.object(request.path_params["object"])
        access = access_for(model, actor)
        access.require(obj.name, "edit")
        sections = form_sections(layout_for(model, obj, access), obj, access)
        fields = _fields(sections)
        record, current, titles = _current(request, tx, obj, access, fields, record_id)
        require_changeable(request, tx, obj, record_id)
        shown = title_of(record, title_field(obj, access))
        form = _Form(obj, access, sections, model, heading=f"Edit {shown}", action=edit_url(obj.name, record_id),
                     cancel=record_url(obj.name, record_id))
        if request.method != "POST":
            return form.render(request, current, titles, opened=current, version=record["version"])
        opened = read_opened(request.state.form, current)
        posted = read_posted(request, tx, fields, opened, creating=False)
    version = read_version(request.state.form)
    if not posted.changes and not posted.problems:
        return redirect(request, record_url(obj.name, record_id), "Nothing changed.")
    try:
        saved = _write(runtime, actor, posted, lambda records: records.update(
            obj.name, record_id, posted.changes, expected_version=version))
    except StaleVersion:
        return _stale(request, form, fields, posted, record_id)
    except ValidationFailed as error:
        return form.render(request, {**opened, **posted.shown}, {**titles, **posted.titles}, opened=opened,
                           version=version, problems=list(error.problems), status=error.status,
                           computed=record)
    title = title_of(saved, title_field(obj, access))
    return redirect(request, record_url(obj.name, record_id), f"Saved {obj.defn.label.lower()} '{title}'.")


def _write(runtime: Any, actor: Actor, posted: Posted, write: Callable[[RecordService], dict[str, Any]]
           ) -> dict[str, Any]:
    """Write through the record service as ``actor``. With problems on the form the write still
    runs, so that the service's problems come back with the form's, but is rolled back."""
    try:
        with runtime.transaction() as tx:
            record = write(runtime.records(actor, tx))
            if posted.problems:
                raise _FormRefused
    except _FormRefused:
        raise ValidationFailed("the record could not be saved", code="records.validation_failed",
                               problems=posted.problems) from None
    except ValidationFailed as error:
        mine = {p.pointer for p in posted.problems}
        problems = [*posted.problems, *(p for p in error.problems if p.pointer not in mine)]
        raise ValidationFailed(error.message, code=error.code, problems=problems) from None
    return record


def _stale(request: Request, form: _Form, fields: list[FormField], posted: Posted, record_id: str) -> Response:
    """The record changed since the form was opened: say who changed what, keep what the user
    typed, and move the form to the current version."""
    opened = read_opened(request.state.form, {})
    with request.state.org.reading() as tx:
        record, current, titles = _current(request, tx, form.obj, form.access, fields, record_id)
    theirs = [f for f in fields if f.locked is not Locked.COMPUTED and f.name in opened
              and not same_value(f.field, opened[f.name], current.get(f.name))]
    values, shown_titles, notes = dict(current), dict(titles), {}
    touched = set(posted.changes) | {p.pointer.lstrip("/") for p in posted.problems}
    for item in fields:
        if item.name in touched:  # what the user typed is kept
            values[item.name] = posted.shown.get(item.name)
            shown_titles[item.name] = posted.titles.get(item.name, "")
            if item in theirs:
                now = shown_as(view_of(form.model, form.access, item.field, current.get(item.name),
                                       titles.get(item.name)))
                notes[item.name] = f"Changed meanwhile to “{now.text or '(empty)'}”; saving keeps your value."
    who = people(request, [record["updated_by"]])[record["updated_by"]]
    stamp = SYSTEM_FIELD_DEFS["updated_at"]
    stale = {"who": who, "when": field_view(stamp, FIELD_TYPES[stamp.type], record["updated_at"]),
             "changes": [shown_as(view_of(form.model, form.access, f.field, current.get(f.name), titles.get(f.name)))
                         for f in theirs]}
    return form.render(request, values, shown_titles, opened=current, version=record["version"], notes=notes,
                       stale=stale, status=412, computed=record, problems=posted.problems)


def _current(request: Request, tx: Any, obj: CompiledObject, access: Access, fields: list[FormField],
             record_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The record as the form shows it: the record, its form fields' values, and its lookups' titles."""
    wanted = {f.name: f.field for f in fields}
    title = title_field(obj, access)
    if title is not None:
        wanted.setdefault(title, obj.fields[title])
    record, paths = read_record(request, tx, obj, record_id, wanted.values())
    values = {f.name: record.get(f.name) for f in fields}
    return record, values, {name: record.get(path) for name, path in paths.items()}


def _fields(sections: list[FormSection]) -> list[FormField]:
    return [f for section in sections for f in section.fields]


def _initial(fields: list[FormField], params: Any) -> dict[str, Any]:
    """A new record's values: each field's default, or what the address pre-fills."""
    values: dict[str, Any] = {}
    for item in fields:
        compiled = item.field
        if item.locked is Locked.COMPUTED:
            continue
        if item.editable and item.name in params:
            values[item.name] = field_view(compiled.defn, compiled.type).widget.parse(params, item.name)
            continue
        default = compiled.type.default_value(compiled.defn)
        if default is not None:
            values[item.name] = compiled.type.to_json(default, compiled.defn)
    return values


def _titles(request: Request, tx: Any, fields: list[FormField], values: dict[str, Any]) -> dict[str, Any]:
    """The titles of the records the (pre-filled) lookups point at."""
    wanted: dict[str, dict[str, str]] = defaultdict(dict)
    for item in fields:
        target, value = item.field.defn.target, values.get(item.name)
        if target and isinstance(value, str) and value:
            wanted[target][item.name] = value
    titles: dict[str, Any] = {}
    for target, chosen in wanted.items():
        known = titles_by_id(request, tx, target, chosen.values())
        titles.update({name: known[value] for name, value in chosen.items() if value in known})
    return titles


class _Form:
    """One form's fixed parts: the object, the user's access, its sections and where it goes."""

    def __init__(self, obj: CompiledObject, access: Access, sections: list[FormSection], model: Any, *,
                 heading: str, action: str, cancel: str) -> None:
        self.obj, self.access, self.sections, self.model = obj, access, sections, model
        self.heading, self.action, self.cancel = heading, action, cancel

    def render(self, request: Request, values: dict[str, Any], titles: dict[str, Any], *, opened: dict[str, Any],
               version: int | None = None, problems: list[Problem] | None = None, status: int = 200,
               notes: dict[str, str] | None = None, stale: dict[str, Any] | None = None,
               computed: dict[str, Any] | None = None) -> Response:
        """The form with ``values`` (a lookup's ``titles``); ``computed`` is the record whose
        computed values show; ``problems`` go to their fields and the summary at the top."""
        fields = _fields(self.sections)
        at_field, summary = self._errors(problems or [], {f.name for f in fields if f.locked is not Locked.COMPUTED})
        at_field = {**(notes or {}), **at_field}
        record = computed if computed is not None else values
        sections = [{"label": s.label, "columns": s.columns,
                     "fields": [self._view(f, record if f.locked is Locked.COMPUTED else values, titles,
                                           at_field.get(f.name)) for f in s.fields]}
                    for s in self.sections]
        return page(request, "records/form.html", status=status, obj=self.obj.defn, heading=self.heading,
                    action=self.action, cancel=self.cancel, sections=sections, summary=summary, stale=stale,
                    version=version, opened=opened_values(fields, opened), version_input=VERSION,
                    opened_input=OPENED, list_url=list_url(self.obj.name), new_url=new_url(self.obj.name))

    def _view(self, item: FormField, values: dict[str, Any], titles: dict[str, Any], error: str | None) -> FieldView:
        name = item.name
        facts: dict[str, Any] = {"readonly": item.locked is not None, "required": item.required, "error": error}
        if item.field.defn.target:
            facts["title"] = titles.get(name) or (str(values[name]) if values.get(name) else "")
        return view_of(self.model, self.access, item.field, values.get(name), titles.get(name), **facts)

    def _errors(self, problems: list[Problem], on_form: set[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Each problem at its field when the form shows the field, and all of them for the summary."""
        at_field: dict[str, list[str]] = defaultdict(list)
        summary: list[dict[str, Any]] = []
        labels = {name: f.defn.label for name, f in self.obj.fields.items()}
        for problem in problems:
            name = problem.pointer.lstrip("/")
            message = _readable(problem.message, labels, at_field=name in on_form)
            if name in on_form:
                at_field[name].append(message)
                label = labels[name]
                summary.append({"message": message if message.startswith(label) else f"{label}: {message}",
                                "href": f"#field-{name}-wrap"})
            else:
                summary.append({"message": message, "href": None})
        return {name: " ".join(messages) for name, messages in at_field.items()}, summary


def _readable(message: str, labels: dict[str, str], *, at_field: bool) -> str:
    """A service message for a person: "field 'amount' on object 'deal': expected a number" is
    "Expected a number." at the field (elsewhere "Amount: expected a number.")."""
    found = _ABOUT_FIELD.match(message)
    if found is not None:
        label, rest = labels.get(found.group(1), found.group(1)), message[found.end():]
        if found.group(2) and at_field:
            message = rest
        elif found.group(2):
            message = f"{label}: {rest}"
        else:
            message = f"{label}{rest}"
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


ROUTES = [
    PageRoute("/o/{object}/new", new_record, methods=("GET", "POST")),
    PageRoute("/o/{object}/{id}/edit", edit_record, methods=("GET", "POST")),
]
