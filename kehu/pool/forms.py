"""Forms of the pool pages. They parse; views authorise; services decide."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import set_queryset
from kehu.parties.forms import PartyFilterForm, model_field
from kehu.pool.models import PoolSettings
from kehu.tenancy.forms import PageForm
from kehu.tenancy.models import MANAGE_ROLES, User
from kehu.tenancy.selectors import active_staff


class PoolFilterForm(PartyFilterForm):
    """The customer list's search and filters, less owner and team: in the pool every
    party is held by the custodian."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["owner"], self.fields["team"]


class PoolSettingsForm(PageForm):
    enabled = model_field(PoolSettings, "enabled")
    idle_days = model_field(PoolSettings, "idle_days")
    claim_limit = model_field(PoolSettings, "claim_limit")
    claim_window_days = model_field(PoolSettings, "claim_window_days")
    custodian: "forms.ModelChoiceField[User]" = forms.ModelChoiceField(
        label=_("公海管理员"),
        queryset=None,
        required=False,
        empty_label=_("最早的管理员"),
        help_text=_("公海中的客户由此人代管；不填则由最早的管理员代管。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the queryset is scoped to the tenant active at that moment.
        managers = active_staff().filter(role__in=MANAGE_ROLES)
        set_queryset(self, "custodian", managers)

    @classmethod
    def for_rule(cls, rule: PoolSettings) -> "PoolSettingsForm":
        initial = {name: getattr(rule, name) for name in cls.base_fields if name != "custodian"}
        return cls(initial={**initial, "custodian": rule.custodian_id})


class ReleaseForm(PageForm):
    reason = forms.CharField(label=_("退回原因"), max_length=500)


class AssignForm(PageForm):
    owner: "forms.ModelChoiceField[User]" = forms.ModelChoiceField(label=_("分配给"), queryset=None)
    note = forms.CharField(label=_("说明"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())
