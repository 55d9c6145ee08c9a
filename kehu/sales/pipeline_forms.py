"""Parsing what the pipeline, opportunity and lead pages send. Forms parse; services decide."""

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import set_queryset
from kehu.parties.forms import model_field
from kehu.parties.models import LinkKind, Party, PartyKind, PartyLink
from kehu.sales import lead_services as leads
from kehu.sales import pipeline_services as deals
from kehu.sales.forms import BaseLineFormSet, LineForm, day_input
from kehu.sales.models import (
    Currency,
    Lead,
    LeadStatus,
    LostReason,
    Opportunity,
    Pipeline,
    Product,
    SourceChannel,
    Stage,
    StageField,
    StageKind,
    WebForm,
)
from kehu.sales.pipeline_selectors import LeadFilters, OpportunityFilters, lost_reasons, pipelines
from kehu.sales.selectors import products_for_sale
from kehu.tenancy.models import Team, User
from kehu.tenancy.selectors import active_staff

STATUS_CHOICES = [("", _("全部")), *StageKind.choices]


class OpportunityFilterForm(forms.Form):
    q = forms.CharField(label=_("客户"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=STATUS_CHOICES)
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("负责人"), required=False, queryset=None, empty_label=_("全部负责人")
    )
    stale = forms.BooleanField(label=_("只看停滞"), required=False)
    close_from = forms.DateField(label=_("预计成交从"), required=False, widget=day_input())
    close_to = forms.DateField(label=_("至"), required=False, widget=day_input())
    pipeline = forms.IntegerField(required=False, widget=forms.HiddenInput)
    party = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())

    def filters(self) -> OpportunityFilters:
        if not self.is_valid():
            return OpportunityFilters(party_id=-1)  # a malformed filter shows nothing
        data = self.cleaned_data
        return OpportunityFilters(
            q=data["q"],
            status=data["status"],
            owner_id=data["owner"].pk if data["owner"] else None,
            stale=data["stale"],
            close_from=data["close_from"],
            close_to=data["close_to"],
            pipeline_id=data["pipeline"],
            party_id=data["party"],
        )


class OpportunityForm(forms.Form):
    name = model_field(Opportunity, "name")
    pipeline: forms.ModelChoiceField[Pipeline] = forms.ModelChoiceField(
        label=_("销售流程"), queryset=None
    )
    contact: forms.ModelChoiceField[Party] = forms.ModelChoiceField(
        label=_("联系人"), required=False, queryset=None
    )
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(label=_("负责人"), queryset=None)
    amount = model_field(Opportunity, "amount", required=False, min_value=Decimal(0))
    currency = forms.ChoiceField(label=_("币种"), choices=Currency.choices, initial=Currency.CNY)
    expected_close_date = model_field(
        Opportunity, "expected_close_date", required=False, widget=day_input()
    )
    next_step = model_field(Opportunity, "next_step", required=False)
    source_channel = model_field(Opportunity, "source_channel", required=False)
    campaign = model_field(Opportunity, "campaign", required=False)
    competitor_note = model_field(Opportunity, "competitor_note", required=False)

    def __init__(self, *args: Any, party: Party, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())
        set_queryset(self, "pipeline", pipelines())
        employed = PartyLink.objects.filter(from_party=party, kind=LinkKind.EMPLOYS)
        people = Party.objects.filter(kind=PartyKind.PERSON, pk__in=employed.values("to_party"))
        set_queryset(self, "contact", people.order_by("name"))
        if editing:
            del self.fields["pipeline"]  # a deal moves between stages, not pipelines


class OptionalLineFormSet(BaseLineFormSet):
    """The deal's products: unlike an order's, a deal may have none yet."""

    def clean(self) -> None:
        forms.BaseFormSet.clean(self)


OpportunityLineFormSet = formset_factory(
    LineForm, formset=OptionalLineFormSet, extra=0, max_num=200, can_delete=True
)


class MoveForm(forms.Form):
    stage: forms.ModelChoiceField[Stage] = forms.ModelChoiceField(label=_("阶段"), queryset=None)

    def __init__(self, *args: Any, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "stage", Stage.objects.filter(pipeline=pipeline))


class WinForm(forms.Form):
    closed_on = forms.DateField(label=_("成交日期"), required=False, widget=day_input())
    note = forms.CharField(label=_("说明"), required=False, max_length=500)


class LoseForm(forms.Form):
    reason: forms.ModelChoiceField[LostReason] = forms.ModelChoiceField(
        label=_("输单原因"), required=False, queryset=None
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "reason", lost_reasons())


# --- leads -----------------------------------------------------------------------------


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *LeadStatus.choices]
    )
    source_channel = forms.ChoiceField(
        label=_("来源渠道"), required=False, choices=[("", _("全部渠道")), *SourceChannel.choices]
    )
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("负责人"), required=False, queryset=None, empty_label=_("全部负责人")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())

    def filters(self) -> LeadFilters:
        if not self.is_valid():
            return LeadFilters(status="-")  # a malformed filter shows nothing
        data = self.cleaned_data
        return LeadFilters(
            q=data["q"],
            status=data["status"],
            source_channel=data["source_channel"],
            owner_id=data["owner"].pk if data["owner"] else None,
        )


LEAD_FIELDS = ("name", "company", "title", "mobile", "email", "wechat", "region")


class LeadForm(forms.Form):
    name = model_field(Lead, "name")
    company = model_field(Lead, "company", required=False)
    title = model_field(Lead, "title", required=False)
    mobile = model_field(Lead, "mobile", required=False)
    email = model_field(Lead, "email", required=False)
    wechat = model_field(Lead, "wechat", required=False)
    region = model_field(Lead, "region", required=False)
    source_channel = model_field(Lead, "source_channel")
    campaign = model_field(Lead, "campaign", required=False)
    product_interest: forms.ModelChoiceField[Product] = forms.ModelChoiceField(
        label=_("意向产品"), required=False, queryset=None
    )
    note = model_field(Lead, "note", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "product_interest", products_for_sale())


class AssignForm(forms.Form):
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("负责人"), required=False, queryset=None
    )
    team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("团队"), required=False, queryset=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())
        set_queryset(self, "team", Team.objects.order_by("name"))


class DisqualifyForm(forms.Form):
    reason = forms.CharField(label=_("废弃原因"), max_length=200)


class ConvertForm(forms.Form):
    """Convert a lead: into a new party, or linked to one the duplicate check found."""

    existing = forms.IntegerField(required=False, widget=forms.HiddenInput)
    opportunity_name = forms.CharField(label=_("商机名称"), max_length=100, required=False)


# --- settings (admins and managers) ----------------------------------------------------


class PipelineCreateForm(forms.Form):
    name = model_field(Pipeline, "name")
    stages = forms.CharField(
        label=_("进行中的阶段"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("每行一个阶段：名称 赢单概率，如「提案 60」；赢单和输单阶段会自动加上。"),
    )
    is_default = forms.BooleanField(label=_("设为默认"), required=False)

    def clean_stages(self) -> list[deals.StageIn]:
        out = []
        for n, raw in enumerate(self.cleaned_data["stages"].splitlines(), start=1):
            if not raw.strip():
                continue
            name, _sep, probability = raw.strip().rpartition(" ")
            if not name.strip() or not probability.isdigit():
                raise ValidationError(
                    _("第 %(n)s 行应为「名称 概率」：%(line)s") % {"n": n, "line": raw.strip()}
                )
            out.append(deals.StageIn(name.strip(), int(probability)))
        if not out:
            raise ValidationError(_("至少要有一个进行中的阶段。"))
        return [
            *out,
            deals.StageIn(str(_("赢单")), 100, StageKind.WON),
            deals.StageIn(str(_("输单")), 0, StageKind.LOST),
        ]


class StageForm(forms.Form):
    name = model_field(Stage, "name")
    probability = forms.IntegerField(label=_("赢单概率（%）"), min_value=0, max_value=100)
    required_fields = forms.MultipleChoiceField(
        label=_("进入时必填"),
        required=False,
        choices=StageField.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class LostReasonForm(forms.Form):
    name = model_field(LostReason, "name")


class SettingsForm(forms.Form):
    stale_days = forms.IntegerField(label=_("多少天无跟进视为停滞"), min_value=1, max_value=365)
    default_team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("默认分配团队"), required=False, queryset=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "default_team", Team.objects.order_by("name"))


class RuleForm(forms.Form):
    region = forms.CharField(label=_("地区"), required=False, max_length=20)
    product: forms.ModelChoiceField[Product] = forms.ModelChoiceField(
        label=_("意向产品"), required=False, queryset=None
    )
    team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("团队（轮流分配）"), required=False, queryset=None
    )
    user: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("或指定员工"), required=False, queryset=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "product", products_for_sale())
        set_queryset(self, "team", Team.objects.order_by("name"))
        set_queryset(self, "user", active_staff())


def _web_form_field_choices() -> list[tuple[str, Any]]:
    labels = LeadForm.base_fields
    return [(name, labels[name].label) for name in leads.WEB_FORM_FIELDS]


class WebFormForm(forms.Form):
    title = model_field(WebForm, "title")
    shown = forms.MultipleChoiceField(
        label=_("显示的字段"),
        choices=_web_form_field_choices,
        widget=forms.CheckboxSelectMultiple,
        initial=["company", "mobile", "email", "note"],
        help_text=_("姓名总是必填。"),
    )
    source_channel = model_field(WebForm, "source_channel")
    campaign = model_field(WebForm, "campaign", required=False)
    thank_you = model_field(WebForm, "thank_you", required=False)
    allowed_origins = model_field(
        WebForm,
        "allowed_origins",
        required=False,
        help_text=_("可以嵌入此表单的网站，空格分隔，如 https://www.example.cn；留空则不限。"),
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["fields"] = data.pop("shown")
        return data
