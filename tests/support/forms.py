"""Reading a page's forms as a browser would submit them, and the parts of a page tests look at."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

#: input types a browser sends only as the button pressed (or, for a file, not as text)
_NOT_SENT = frozenset({"submit", "button", "reset", "image", "file"})


@dataclass
class Form:
    """One form of a page: where it posts, its id, what a browser sends with it when nothing is
    changed (``fields``, in page order) and the values each ``<select>`` offers (``choices``)."""

    action: str
    id: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, str]:
        """The fields by name (of a name sent more than once, its last value); a new dict each time."""
        return dict(self.fields)


@dataclass
class _Option:
    value: str | None  # None: the option's text is its value
    selected: bool
    disabled: bool
    text: list[str] = field(default_factory=list)

    def sent(self) -> str:
        return self.value if self.value is not None else " ".join("".join(self.text).split())


@dataclass
class _Select:
    name: str
    disabled: bool
    multiple: bool
    options: list[_Option] = field(default_factory=list)

    def sent(self) -> list[str]:
        """The values sent: the selected options (a single select: the last one marked selected,
        else its first option that is not disabled), leaving out disabled ones."""
        if self.multiple:
            chosen = [o for o in self.options if o.selected]
        else:
            marked = [o for o in self.options if o.selected]
            chosen = marked[-1:] or [o for o in self.options if not o.disabled][:1]
        return [o.sent() for o in chosen if not o.disabled]


class _PageForms(HTMLParser):
    """Every form of a page (controls outside a form are not sent, and a ``<form>`` inside a form
    is ignored, as browsers do). Controls are disabled by their own ``disabled`` attribute only:
    the pages have no disabled fieldsets nor controls placed outside their form with ``form=``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: _Select | None = None
        self._option: _Option | None = None
        self._textarea: tuple[str, list[str]] | None = None  # its name ("": not sent) and text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if self._form is None:
                self._form = Form(action=a.get("action", ""), id=a.get("id", ""))
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name", "")
        sent = bool(name) and "disabled" not in a
        if tag == "input":
            kind = a.get("type", "text").lower()
            if not sent or kind in _NOT_SENT or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self._form.fields.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self._select = _Select(name, disabled=not sent, multiple="multiple" in a)
        elif tag == "option" and self._select is not None:
            self._option = _Option(a.get("value"), "selected" in a, "disabled" in a)
            self._select.options.append(self._option)
        elif tag == "textarea":
            self._textarea = (name if sent else "", [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None:
            self._option.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif self._form is None:
            return
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            select, self._select, self._option = self._select, None, None
            if select.name:
                self._form.choices[select.name] = [o.sent() for o in select.options]
            if not select.disabled:
                self._form.fields.extend((select.name, value) for value in select.sent())
        elif tag == "textarea" and self._textarea is not None:
            (name, text), self._textarea = self._textarea, None
            if name:  # a browser drops the line break right after <textarea>
                self._form.fields.append((name, re.sub(r"^\r?\n", "", "".join(text))))


def forms_in(html: str) -> list[Form]:
    """Every form of the page ``html``, in page order."""
    parser = _PageForms()
    parser.feed(html)
    parser.close()
    return parser.forms


def _first(html: str, action: str | None, form_id: str | None) -> Form | None:
    for form in forms_in(html):
        if (action is None or action in (form.action, form.action.split("#")[0])) and \
                (form_id is None or form.id == form_id):
            return form
    return None


def form_in(html: str, action: str | None = None, form_id: str | None = None) -> Form:
    """The first form of ``html`` posting to ``action`` (its action with or without a #fragment)
    and with id ``form_id``, of those given; there must be one."""
    form = _first(html, action, form_id)
    assert form is not None, f"no form {form_id or ''} posting to {action or 'anywhere'} in the page:\n{html}"
    return form


def form_data(html: str, action: str | None = None, **changes: Any) -> dict[str, Any]:
    """What submitting the form (posting to ``action``; default the first form in the page's
    main part) sends, with ``changes`` typed in: a value, a list (several values), or ``None``
    (the control left out, as an unchecked checkbox is). Without such a form: only ``changes``."""
    main = html[html.index('<main'):] if "<main" in html else html
    form = _first(main, action, None)
    data: dict[str, Any] = {}
    for name, value in form.fields if form else []:
        if name in data:
            data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
        else:
            data[name] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def field_error(html: str, name: str) -> str | None:
    """The error message shown at field ``name``, if any."""
    found = re.search(rf'<p class="field-error" id="field-{name}-error" role="alert">(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else None


def input_value(html: str, name: str) -> str | None:
    """The value of the (text, hidden or search) input named ``name``."""
    found = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*\bvalue="([^"]*)"', html, re.S)
    return unescape(found.group(1)) if found else None
