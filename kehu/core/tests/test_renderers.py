"""The Python-built <select> is the markup Django's templates would render."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.test.html import parse_html

from kehu.core.renderers import FormRenderer

CHOICES = [
    ("", "全部"),
    ("a", "<b>甲</b> & 乙"),
    ("水果", [("apple", "苹果"), ("pear", "梨")]),
    (3, "三"),
]


class Filters(forms.Form):
    one = forms.ChoiceField(choices=CHOICES, required=False)
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    plain = forms.CharField(required=False)


def _both(data: dict[str, object], name: str) -> tuple[str, str]:
    django_html = str(Filters(data, renderer=DjangoTemplates())[name])
    kehu_html = str(Filters(data, renderer=FormRenderer())[name])
    return django_html, kehu_html


def test_a_select_matches_django_with_groups_escaping_and_the_selected_option() -> None:
    django_html, kehu_html = _both({"one": "pear"}, "one")
    assert parse_html(kehu_html) == parse_html(django_html)
    assert "&lt;b&gt;甲&lt;/b&gt; &amp; 乙" in kehu_html
    assert '<option value="pear" selected>梨</option>' in kehu_html
    assert '<optgroup label="水果">' in kehu_html


def test_a_multiple_select_matches_django() -> None:
    django_html, kehu_html = _both({"many": ["a", "3"]}, "many")
    assert parse_html(kehu_html) == parse_html(django_html)
    assert " multiple" in kehu_html
    assert kehu_html.count(" selected") == 2


def test_an_unbound_select_and_other_widgets_match_django() -> None:
    for name in ("one", "plain"):
        django_html, kehu_html = _both({}, name)
        assert parse_html(kehu_html) == parse_html(django_html)


class Fancy(forms.Select):
    option_template_name = "django/forms/widgets/radio_option.html"


def test_a_select_with_its_own_option_template_goes_through_the_templates() -> None:
    class WithFancy(forms.Form):
        pick = forms.ChoiceField(choices=[("x", "X")], widget=Fancy)

    html = str(WithFancy(renderer=FormRenderer())["pick"])
    assert "<label><input" in html  # its own option template was used, not <option>
    assert parse_html(html) == parse_html(str(WithFancy(renderer=DjangoTemplates())["pick"]))


class Inputs(forms.Form):
    name = forms.CharField(max_length=20, required=False)
    email = forms.EmailField(required=False)
    count = forms.IntegerField(min_value=0, required=False)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(required=False)
    hidden = forms.CharField(required=False, widget=forms.HiddenInput)
    secret = forms.CharField(required=False, widget=forms.PasswordInput)
    agree = forms.BooleanField(required=False)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


INPUT_DATA = {
    "name": '<b>"张三"</b>',
    "email": "a@example.com",
    "count": "3",
    "day": "2024-03-05",
    "when": "2024-03-05 09:30",
    "hidden": "x&y",
    "secret": "s",
    "agree": "on",
    "note": "第一行\n<script>alert(1)</script>",
}


@pytest.mark.parametrize("data", [INPUT_DATA, {}], ids=["bound", "unbound"])
def test_inputs_and_textareas_match_django(data: dict[str, str]) -> None:
    for name in Inputs.base_fields:
        django_html = str(Inputs(data or None, renderer=DjangoTemplates())[name])
        kehu_html = str(Inputs(data or None, renderer=FormRenderer())[name])
        assert parse_html(kehu_html) == parse_html(django_html), name


def test_input_values_are_escaped() -> None:
    form = Inputs(INPUT_DATA, renderer=FormRenderer())
    assert 'value="&lt;b&gt;&quot;张三&quot;&lt;/b&gt;"' in str(form["name"])
    assert "&lt;script&gt;" in str(form["note"])
    assert " checked" in str(form["agree"])
