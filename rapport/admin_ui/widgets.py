"""Form widgets, one per ``FieldType.widget`` name: how a field's value is shown, put into a
form input, and read back from a posted form.

A field type names its widget (``widget = "currency"``); the widget's markup is the template
``widgets/<name>.html``, which defines two macros: ``input(f)`` (the form control, with its
label, help, required marker and error) and ``show(f)`` (the value on a record page or in a
list). A new field type picks a widget here, or adds one: a :class:`Widget` in ``WIDGETS``
and its template. Code outside this module never branches on a widget's or a type's name.

Values are the API's JSON values (what the record service and the query engine return);
a posted form gives text, which :meth:`Widget.parse` turns back into the API's input, so
the form and the API share one write path and one set of checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from rapport.metadata.model import FieldDef
from rapport.runtime.fields import FieldType

Form = ImmutableMultiDict[str, str]


@dataclass(frozen=True)
class FieldView:
    """One field as a page shows it: what it is, what it holds, and what went wrong with it."""

    name: str
    label: str
    defn: FieldDef
    type: FieldType
    widget: Widget
    #: the record's JSON value, or what the user typed (kept on an error)
    value: Any = None
    required: bool = False
    readonly: bool = False
    error: str | None = None
    #: for a lookup: the looked-up record's title and page address
    title: str | None = None
    link: str | None = None
    #: facts of the type for the widget (picklist values, limits, lookup target)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"field-{self.name}"

    @property
    def template(self) -> str:
        return f"widgets/{self.widget.name}.html"

    @property
    def input_value(self) -> Any:
        return self.widget.input_value(self)

    @property
    def text(self) -> str:
        """The value as a person reads it ('' when empty)."""
        return self.widget.text(self)

    @property
    def inputmode(self) -> str | None:
        """The keyboard a phone shows for this field, if any."""
        return self.widget.input_mode(self)


class Widget:
    """A text input: what most types need. Subclasses change how values go in and out."""

    name = "text"
    #: the ``inputmode`` hint for a phone's keyboard, if any
    inputmode: str | None = None

    def input_mode(self, view: FieldView) -> str | None:
        return self.inputmode

    def input_value(self, view: FieldView) -> Any:
        """What the form control holds: text (lists for choices of several)."""
        value = view.value
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def text(self, view: FieldView) -> str:
        try:
            text = view.type.to_text(view.value, view.defn)
        except (ArithmeticError, AttributeError, TypeError, ValueError):  # a typed value kept after an error
            text = str(view.value)
        return text or ""

    def parse(self, form: Form, name: str) -> Any:
        """The API's input from the posted form: ``None`` for an empty control."""
        value = form.get(name, "")
        return value if value.strip() else None


class NumberWidget(Widget):
    name = "number"
    inputmode = "decimal"

    def input_mode(self, view: FieldView) -> str | None:
        """Digits alone for whole numbers (no scale), else a keyboard with the decimal point."""
        return "numeric" if not view.defn.scale else self.inputmode

    def text(self, view: FieldView) -> str:
        number = _decimal(view.value)
        if number is None:
            return super().text(view)
        scale = view.defn.scale or 0
        return f"{number:,.{scale}f}"

    def parse(self, form: Form, name: str) -> Any:
        value = form.get(name, "").strip()
        return value.replace(",", "").replace(" ", "") or None


class CurrencyWidget(NumberWidget):
    name = "currency"


class PercentWidget(NumberWidget):
    name = "percent"

    def text(self, view: FieldView) -> str:
        text = super().text(view)
        return f"{text} %" if text else ""

    def parse(self, form: Form, name: str) -> Any:
        value = super().parse(form, name)
        return value.rstrip("%").strip() or None if value is not None else None


class CheckboxWidget(Widget):
    name = "checkbox"

    def text(self, view: FieldView) -> str:
        return "" if view.value is None else ("Yes" if view.value in (True, "true", "on") else "No")

    def input_value(self, view: FieldView) -> Any:
        return view.value in (True, "true", "on")

    def parse(self, form: Form, name: str) -> Any:
        return form.get(name) in ("true", "on")


class SelectWidget(Widget):
    """A picklist: its active values (and the record's current one, even if retired)."""

    name = "select"

    def text(self, view: FieldView) -> str:
        labels = _labels(view)
        return "" if view.value in (None, "") else labels.get(str(view.value), str(view.value))


class MultiselectWidget(Widget):
    """A multi-picklist: one checkbox per value, in a fieldset."""

    name = "multiselect"

    def input_value(self, view: FieldView) -> Any:
        value = view.value
        if isinstance(value, str):
            return [v for v in value.split(";") if v]
        return list(value or [])

    def text(self, view: FieldView) -> str:
        labels = _labels(view)
        return "; ".join(labels.get(v, v) for v in self.input_value(view))

    def parse(self, form: Form, name: str) -> Any:
        return [v for v in form.getlist(name) if v]


class DateWidget(Widget):
    name = "date"


class DateTimeWidget(Widget):
    """A UTC date and time: ``datetime-local`` shows and takes it without the zone."""

    name = "datetime"

    def input_value(self, view: FieldView) -> Any:
        value = view.value
        if isinstance(value, str) and len(value) >= 16:
            return value[:19].replace(" ", "T")
        return super().input_value(view)

    def text(self, view: FieldView) -> str:
        value = view.value
        if isinstance(value, str) and len(value) >= 16:
            return value[:16].replace("T", " ") + " UTC"
        return super().text(view)

    def parse(self, form: Form, name: str) -> Any:
        value = form.get(name, "").strip()
        if not value:
            return None
        return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


class TimeWidget(Widget):
    name = "time"


class TextareaWidget(Widget):
    name = "textarea"

    def parse(self, form: Form, name: str) -> Any:
        value = form.get(name, "").replace("\r\n", "\n")
        return value if value.strip() else None


class EmailWidget(Widget):
    name = "email"
    inputmode = "email"


class PhoneWidget(Widget):
    name = "tel"
    inputmode = "tel"


class UrlWidget(Widget):
    name = "url"
    inputmode = "url"


class LookupWidget(Widget):
    """A lookup: a search box for the record's title (type-ahead from ``/o/<target>/lookup``)
    and a hidden input with the chosen record's id. Without a script, a typed title that
    names exactly one record is taken (see ``records.lookup.resolve_title``)."""

    name = "lookup"

    def text(self, view: FieldView) -> str:
        return view.title or ("" if view.value is None else str(view.value))

    @staticmethod
    def label_input(name: str) -> str:
        """The name of the visible search box of lookup field ``name``."""
        return f"{name}__title"

    def parse(self, form: Form, name: str) -> Any:
        value = form.get(name, "").strip()
        return value or None


class ReadonlyWidget(Widget):
    """A computed field (formula, roll-up, autonumber): shown as its value's type shows it."""

    name = "readonly"

    def text(self, view: FieldView) -> str:
        shown = shown_as(view)
        return shown.widget.text(shown) if shown is not view else super().text(view)

    def parse(self, form: Form, name: str) -> Any:
        raise AssertionError("a computed field is never read from a form")


WIDGETS: dict[str, Widget] = {w.name: w for w in (
    Widget(), NumberWidget(), CurrencyWidget(), PercentWidget(), CheckboxWidget(), SelectWidget(),
    MultiselectWidget(), DateWidget(), DateTimeWidget(), TimeWidget(), TextareaWidget(), EmailWidget(),
    PhoneWidget(), UrlWidget(), LookupWidget(), ReadonlyWidget(),
)}


def widget_of(field_type: FieldType) -> Widget:
    """The widget of a field type (a type naming no known widget is a programming error)."""
    return WIDGETS[field_type.widget]


def field_view(defn: FieldDef, field_type: FieldType, value: Any = None, **facts: Any) -> FieldView:
    """The view of one field with ``value``; ``facts`` are FieldView's other attributes."""
    options = {**field_type.describe(defn), **({"target": defn.target} if defn.target else {})}
    return FieldView(name=defn.name, label=defn.label, defn=defn, type=field_type, widget=widget_of(field_type),
                     value=value, options=options, **facts)


def shown_as(view: FieldView) -> FieldView:
    """A computed field's view as its value's type (a currency formula shows as currency)."""
    value_type = getattr(view.type, "value_type", None)
    if value_type is None:
        return view
    field_type, defn = value_type(view.defn)
    return FieldView(name=view.name, label=view.label, defn=defn, type=field_type, widget=widget_of(field_type),
                     value=view.value, options=view.options)


def _labels(view: FieldView) -> dict[str, str]:
    return {v["value"]: v["label"] for v in view.options.get("values", ())}


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
