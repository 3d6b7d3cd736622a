"""Reading a page's form as a browser would submit it, and the parts of a page tests look at."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    """The fields of the form posting to ``action``: what a browser sends when nothing is changed."""

    def __init__(self, action: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._selected: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and (self.action is None or a.get("action") == self.action):
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        disabled = "disabled" in a
        if tag == "input" and name and not disabled:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.fields.append((name, a.get("value", "")))
        elif tag == "select" and name and not disabled:
            self._select, self._selected, self._first_option = name, None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._selected = value
        elif tag == "textarea" and name and not disabled:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
            self.action = "\0"  # only the first matching form
        elif tag == "select" and self._select is not None:
            chosen = self._selected if self._selected is not None else self._first_option
            self.fields.append((self._select, chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None


def form_data(html: str, action: str | None = None, **changes: Any) -> dict[str, Any]:
    """What submitting the form (posting to ``action``; default the first form in the page's
    main part) sends, with ``changes`` typed in: a value, a list (several values), or ``None``
    (the control left out, as an unchecked checkbox is)."""
    reader = _FormReader(action)
    main = html[html.index('<main'):] if "<main" in html else html
    reader.feed(main)
    data: dict[str, Any] = {}
    for name, value in reader.fields:
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
