"""Forms of the insights pages. They parse; views authorise; services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.insights.models import InsightSettings, LifecycleStage, ValueTier
from kehu.insights.services import SETTINGS_FIELDS
from kehu.parties.forms import model_field
from kehu.tenancy.forms import PageForm


class InsightSettingsForm(PageForm):
    horizon_months = model_field(InsightSettings, "horizon_months")
    annual_discount_rate = model_field(InsightSettings, "annual_discount_rate")
    default_margin = model_field(InsightSettings, "default_margin")
    weight_longevity = model_field(InsightSettings, "weight_longevity")
    weight_scale = model_field(InsightSettings, "weight_scale")
    weight_efficiency = model_field(InsightSettings, "weight_efficiency")
    share_s = model_field(InsightSettings, "share_s")
    share_a = model_field(InsightSettings, "share_a")
    share_b = model_field(InsightSettings, "share_b")
    churn_alive_threshold = model_field(InsightSettings, "churn_alive_threshold")
    churn_trend_threshold = model_field(InsightSettings, "churn_trend_threshold")
    winback_due_days = model_field(InsightSettings, "winback_due_days")
    nightly = model_field(InsightSettings, "nightly")
    task_hours = model_field(InsightSettings, "task_hours")
    staff_hour_cost = model_field(InsightSettings, "staff_hour_cost")

    @classmethod
    def for_rule(cls, rule: InsightSettings) -> "InsightSettingsForm":
        return cls(initial={name: getattr(rule, name) for name in SETTINGS_FIELDS})


SORTS = {
    "clp": ("-clp", "id"),
    "current_value": ("-current_value", "id"),
    "growth_potential": ("-growth_potential", "id"),
    "p_alive": ("p_alive", "id"),
    "profit_total": ("-profit_total", "id"),
}


class ScoreFilterForm(forms.Form):
    tier = forms.ChoiceField(
        label=_("价值等级"), choices=[("", _("全部")), *ValueTier.choices], required=False
    )
    stage = forms.ChoiceField(
        label=_("生命周期阶段"),
        choices=[("", _("全部")), *LifecycleStage.choices],
        required=False,
    )
    sort = forms.ChoiceField(
        label=_("排序"),
        choices=[
            ("clp", _("客户全生命周期利润")),
            ("current_value", _("客户当前价值")),
            ("growth_potential", _("客户增值潜力")),
            ("p_alive", _("存活概率（低的在前）")),
            ("profit_total", _("既成价值")),
        ],
        required=False,
    )

    def value(self, name: str) -> str:
        return str(self.cleaned_data.get(name) or "") if self.is_valid() else ""


class StageOverrideForm(PageForm):
    stage = forms.ChoiceField(
        label=_("生命周期阶段"),
        choices=[("", _("按模型推断")), *LifecycleStage.choices],
        required=False,
    )
    reason = forms.CharField(label=_("原因"), max_length=500)
