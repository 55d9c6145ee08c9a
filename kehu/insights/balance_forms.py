"""The form of an entry of planned spend (the balance sheet's liabilities)."""

from typing import Any

from django import forms

from kehu.insights.balance_services import SPEND_FIELDS
from kehu.insights.models import PlannedSpend
from kehu.parties.forms import model_field
from kehu.tenancy.forms import PageForm

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PlannedSpendForm(PageForm):
    """Parses; the service checks the amount is not negative and the end not before the
    start (so that the API says the same)."""

    kind = model_field(PlannedSpend, "kind")
    period_start = model_field(PlannedSpend, "period_start", widget=DATE)
    period_end = model_field(PlannedSpend, "period_end", widget=DATE)
    amount = model_field(PlannedSpend, "amount")
    note = model_field(PlannedSpend, "note", required=False)

    @classmethod
    def for_entry(cls, entry: PlannedSpend, **kwargs: Any) -> "PlannedSpendForm":
        return cls(initial={name: getattr(entry, name) for name in SPEND_FIELDS}, **kwargs)
