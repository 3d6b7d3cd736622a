"""The validation rule editor: when a record write is rejected, and with which message where.

    GET  /admin/objects/{object}/validation_rules/{name}          the editor (``new``: a new rule)
    POST /admin/objects/{object}/validation_rules/{name}          "Preview change"
    POST /admin/objects/{object}/validation_rules/{name}/delete   the preview of deleting the rule

The error condition is a boolean formula: the write is rejected when it is true. While the
admin types, the page checks it live (``POST /admin/formula/check``, via htmx); on saving,
the metadata loader checks it again and its problem (with the line, column and a caret under
the character) is shown at the condition. Nothing is stored until the plan preview is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup._component_editing import (
    ADMIN, NEW, Errors, add_error, check_name, edited_object, editor_url, existing, object_url, propose_delete,
    save,
)
from rapport.runtime.compiled import CompiledObject

GROUP = "validation_rules"
#: what the loader's pointers inside a rule name, as the editor's parts
PARTS = {"name": "name", "error_condition": "expression", "message": "message", "field": "field",
         "active": "active", "description": "description"}


@dataclass
class RuleDraft:
    name: str
    expression: str = ""
    message: str = ""
    field: str = ""
    active: bool = True
    description: str = ""

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> RuleDraft:
        return cls(data["name"], data.get("error_condition", ""), data.get("message", ""), data.get("field") or "",
                   data.get("active", True), data.get("description") or "")

    @classmethod
    def from_form(cls, form: Any, name: str) -> RuleDraft:
        # the condition's input is named as the live formula check expects it (``expression``)
        return cls(name, form.get("expression", "").strip(), form.get("message", "").strip(),
                   form.get("field", ""), form.get("active") == "yes", form.get("description", "").strip())

    def to_metadata(self, object_name: str, original: dict[str, Any] | None) -> tuple[dict[str, Any], Errors]:
        errors: Errors = {}
        if not self.expression:
            add_error(errors, "expression", "Write the condition under which a record is rejected, e.g. amount < 0.")
        if not self.message:
            add_error(errors, "message", "Write the message people see when their record is rejected.")
        data: dict[str, Any] = {"object": object_name, "name": self.name, "error_condition": self.expression,
                                "message": self.message}
        if self.field:
            data["field"] = self.field
        if not self.active or (original is not None and "active" in original):
            data["active"] = self.active
        if self.description:
            data["description"] = self.description
        return data, errors


def rule_editor(request: Request) -> Response:
    obj = edited_object(request)
    name = request.path_params["name"]
    is_new = name == NEW
    original = None if is_new else existing(request, GROUP, obj.name, name)
    if request.method == "GET":
        return _editor(request, obj, RuleDraft("") if original is None else RuleDraft.from_metadata(original),
                       is_new)
    form = request.state.form
    draft = RuleDraft.from_form(form, form.get("name", "").strip() if is_new else name)
    data, errors = draft.to_metadata(obj.name, original)
    if is_new:
        check_name(errors, GROUP, draft.name)
    answer = save(request, GROUP, None if is_new else name, data, _part_of, errors)
    if isinstance(answer, Response):
        return answer
    return _editor(request, obj, draft, is_new, answer)


def delete_rule(request: Request) -> Response:
    edited_object(request)
    return propose_delete(request, GROUP)


def _part_of(rest: str) -> str:
    return PARTS.get(rest.strip("/").split("/")[0], "")


def _editor(request: Request, obj: CompiledObject, draft: RuleDraft, is_new: bool,
            errors: Errors | None = None) -> Response:
    url = editor_url(obj.name, GROUP, NEW if is_new else draft.name)
    return page(request, "admin/rule_editor.html", status=422 if errors else 200, obj=obj.defn,
                object_url=object_url(obj.name), url=url, delete_url=f"{url}/delete", is_new=is_new, draft=draft,
                fields=[(f.name, f.defn.label) for f in obj.fields.values()], errors=errors or {})


ROUTES = [
    PageRoute("/admin/objects/{object}/validation_rules/{name}", rule_editor, methods=("GET", "POST"),
              needs=ADMIN),
    PageRoute("/admin/objects/{object}/validation_rules/{name}/delete", delete_rule, methods=("POST",),
              needs=ADMIN),
]
