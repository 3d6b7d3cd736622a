"""Every registered field type's widget renders: its input (label, required marker, help, error,
the value) and its display, and what a form posts back is what the field takes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.datastructures import ImmutableMultiDict

from rapport.admin_ui.rendering import environment
from rapport.admin_ui.widgets import WIDGETS, FieldView, field_view, widget_of
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.loading import load
from tests.support.field_samples import SAMPLES, sample_bundle

TYPES = sorted(FIELD_TYPES)


def view_of(type_name: str, value: Any = None, **facts: Any) -> FieldView:
    compiled = load(sample_bundle()).object("sampled").field(f"f_{type_name}")  # type: ignore[union-attr]
    assert compiled is not None
    return field_view(compiled, FIELD_TYPES[type_name], value, **facts)


def render(macro: str, view: FieldView) -> str:
    template = environment().from_string("{% import f.template as w %}{{ w." + macro + "(f) }}")
    return template.render(f=view)


def sample_json(type_name: str) -> Any:
    good = SAMPLES[type_name].good
    if good:
        return good[0][1]
    operand = SAMPLES[type_name].operand
    return 2 if operand is None else operand  # a formula's sample computes 1 + 1


class Controls(HTMLParser):
    """The form controls of some HTML, and which ids the labels point at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_targets: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("input", "select", "textarea", "output"):
            self.controls.append({"tag": tag, **attributes})
        if tag == "label" and attributes.get("for"):
            self.label_targets.append(attributes["for"] or "")


def test_every_field_type_names_a_widget_that_exists() -> None:
    assert {FIELD_TYPES[name].widget for name in TYPES} <= set(WIDGETS)
    for name in WIDGETS:
        assert environment().get_template(f"widgets/{name}.html")


@pytest.mark.parametrize("type_name", TYPES)
def test_every_widget_renders_its_input_with_a_label_the_value_and_the_error(type_name: str) -> None:
    view = view_of(type_name, sample_json(type_name), required=True, error="Something is wrong here.")
    html = render("input", view)
    assert view.label in html
    controls = Controls(html)
    assert controls.controls, html
    if view.type.writable:
        named = [c for c in controls.controls if c.get("name") == view.name]
        assert named, f"no control posts field {view.name!r}: {html}"
        # every visible control is labelled: by a <label for>, a wrapping label, or aria-labelledby
        labelled = set(controls.label_targets)
        first = next(c for c in controls.controls if c.get("type") != "hidden")
        assert first.get("id") in labelled or "check" in html or first.get("aria-labelledby"), html
        assert "Something is wrong here." in html and 'role="alert"' in html
        assert re.search(r'aria-(describedby|invalid)="', html), html
        assert "(required)" in html or view.widget.name == "checkbox"  # a checkbox is always true or false
    else:
        assert "<output" in html  # computed: shown, never posted
        assert not [c for c in controls.controls if c.get("name") == view.name]


@pytest.mark.parametrize("type_name", TYPES)
def test_every_widget_shows_a_value_as_text_and_nothing_for_an_empty_one(type_name: str) -> None:
    value = sample_json(type_name)
    shown = render("show", view_of(type_name, value)).strip()
    assert shown, type_name
    assert re.sub(r"<[^>]+>", "", render("show", view_of(type_name, None))).strip() == ""


@pytest.mark.parametrize("type_name", [t for t in TYPES if FIELD_TYPES[t].writable and SAMPLES[t].good])
def test_what_a_form_posts_back_is_the_value_it_showed(type_name: str) -> None:
    field_type = FIELD_TYPES[type_name]
    view = view_of(type_name, sample_json(type_name))
    shown = view.input_value
    posted = ImmutableMultiDict([(view.name, v) for v in shown] if isinstance(shown, list)
                                else ([(view.name, shown)] if shown is not False and shown != "" else
                                      ([] if shown is False else [(view.name, "")])))
    if shown is True:
        posted = ImmutableMultiDict([(view.name, "true")])
    parsed = view.widget.parse(posted, view.name)
    assert field_type.to_json(field_type.coerce(parsed, view.defn), view.defn) == sample_json(type_name)


def test_typed_text_is_escaped_and_kept_on_an_error() -> None:
    view = view_of("text", '"><script>alert(1)</script>', error="Too long.")
    html = render("input", view)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_numbers_show_grouped_with_their_scale_and_take_them_back() -> None:
    view = view_of("currency", 1234567.5)
    assert render("show", view).strip() == '<span class="num">1,234,567.50</span>'
    assert view.widget.parse(ImmutableMultiDict([("f_currency", "1,234,567.50")]), "f_currency") == "1234567.50"
    assert view.widget.parse(ImmutableMultiDict([("f_currency", "  ")]), "f_currency") is None
    percent = view_of("percent", 12.5)
    assert percent.text == "12.50 %"
    assert percent.widget.parse(ImmutableMultiDict([("f_percent", "12.5 %")]), "f_percent") == "12.5"


def test_a_picklist_offers_active_values_and_keeps_a_retired_one_a_record_holds() -> None:
    html = render("input", view_of("picklist", "red"))
    assert '<option value="red" selected>Red</option>' in html and "Green" in html and "Old" not in html
    retired = render("input", view_of("picklist", "old"))
    assert '<option value="old" selected>Old</option>' in retired
    assert view_of("picklist", "green").text == "Green"


def test_a_multipicklist_is_a_group_of_checkboxes_and_posts_every_choice() -> None:
    view = view_of("multipicklist", ["red", "green"])
    html = render("input", view)
    assert "<fieldset" in html and "<legend>" in html and html.count('type="checkbox"') == 2
    assert view.text == "Red; Green"
    posted = ImmutableMultiDict([("f_multipicklist", "red"), ("f_multipicklist", "green")])
    assert view.widget.parse(posted, "f_multipicklist") == ["red", "green"]


def test_a_checkbox_left_unticked_posts_false() -> None:
    view = view_of("boolean", True)
    assert view.widget.parse(ImmutableMultiDict(), "f_boolean") is False
    assert view.text == "Yes" and view_of("boolean", False).text == "No"


def test_a_datetime_is_edited_and_shown_in_utc() -> None:
    view = view_of("datetime", "2026-01-31T09:30:00Z")
    assert view.input_value == "2026-01-31T09:30:00" and view.text == "2026-01-31 09:30 UTC"
    parsed = view.widget.parse(ImmutableMultiDict([("f_datetime", "2026-01-31T09:30")]), "f_datetime")
    assert view.type.to_json(view.type.coerce(parsed, view.defn), view.defn) == "2026-01-31T09:30:00Z"


def test_a_lookup_shows_the_looked_up_records_title_as_a_link() -> None:
    view = view_of("lookup", "0190-id", title="Acme & Co", link="/o/target/0190-id")
    assert render("show", view).strip() == '<a href="/o/target/0190-id">Acme &amp; Co</a>'
    html = render("input", view)
    assert 'name="f_lookup"' in html and 'value="0190-id"' in html and 'name="f_lookup__title"' in html
    assert 'hx-get="/o/target/lookup"' in html and 'role="combobox"' in html


def test_a_formula_shows_as_its_return_type() -> None:
    currency = load({"objects": [{"name": "o", "label": "O", "fields": [
        {"name": "f", "label": "F", "type": "formula", "return_type": "currency", "expression": "1"}]}]})
    compiled = currency.object("o").field("f")  # type: ignore[union-attr]
    view = field_view(compiled, FIELD_TYPES["formula"], 1234.5)
    assert view.text == "1,234.50" and widget_of(FIELD_TYPES["formula"]).name == "readonly"


def test_a_phone_shows_digits_for_whole_numbers_and_a_decimal_point_for_the_others() -> None:
    assert 'inputmode="numeric"' in render("input", view_of("integer", 5))
    assert 'inputmode="decimal"' in render("input", view_of("currency", 19.99))
    assert 'inputmode="email"' in render("input", view_of("email", "ann@example.com"))
