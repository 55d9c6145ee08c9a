"""Short-list choice fields: the same choices as Django's, from one plain query."""

from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.forms import ShortListChoiceField
from kehu.parties import services
from kehu.parties.models import PartyKind, Tag
from kehu.tenancy.models import User


class Pick(forms.Form):
    short: "ShortListChoiceField[Tag]" = ShortListChoiceField(
        queryset=None, empty_label="全部", required=False
    )
    plain: "forms.ModelChoiceField[Tag]" = forms.ModelChoiceField(
        queryset=None, empty_label="全部", required=False
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in ("short", "plain"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Tag.objects.order_by("name")


def _tags(alice: User) -> list[Tag]:
    party = services.party_create(actor=alice, kind=PartyKind.PERSON, name="甲")
    return [services.tag_add(actor=alice, party=party, name=n).tag for n in ("大客户", "华东")]


def test_the_choices_are_djangos_from_one_plain_query(in_acme: None, alice: User) -> None:
    tags = _tags(alice)
    form = Pick({"short": str(tags[1].pk), "plain": str(tags[1].pk)})
    assert form.is_valid()
    with CaptureQueriesContext(connection) as queries:
        html = str(form["short"])
    assert len(queries) == 1
    assert "DECLARE" not in queries.captured_queries[0]["sql"]
    assert html.replace('"short"', '"plain"').replace("id_short", "id_plain") == str(form["plain"])
    assert f'<option value="{tags[1].pk}" selected>华东</option>' in html


def test_a_short_list_still_validates_against_its_queryset(in_acme: None, alice: User) -> None:
    tags = _tags(alice)
    assert Pick({"short": str(tags[0].pk)}).is_valid()
    form = Pick({"short": "999999"})
    assert not form.is_valid()
    assert "short" in form.errors
