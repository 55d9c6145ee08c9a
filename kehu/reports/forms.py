"""The report pages' filter bar."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.reports.periods import Period, Preset
from kehu.reports.selectors import TOP_DEFAULT, TOP_MAX, ReportFilters, report_filters
from kehu.sales.models import Pipeline
from kehu.tenancy.models import Team, User


class ReportFilterForm(forms.Form):
    preset = forms.ChoiceField(
        label=_("时间"), choices=Preset.choices, required=False, initial=Preset.LAST_12_MONTHS
    )
    since = forms.DateField(
        label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(label=_("周期"), choices=Period.choices, required=False)
    team = forms.TypedChoiceField(label=_("团队"), coerce=int, required=False, empty_value=None)
    rep = forms.TypedChoiceField(label=_("销售"), coerce=int, required=False, empty_value=None)
    province = forms.CharField(label=_("省份"), max_length=20, required=False)
    pipeline = forms.TypedChoiceField(
        label=_("销售流程"), coerce=int, required=False, empty_value=None
    )
    top = forms.IntegerField(
        label=_("前 N 名"), min_value=1, max_value=TOP_MAX, required=False, initial=TOP_DEFAULT
    )

    def __init__(self, data: Any, *, firm_wide: bool, pipelines: str = "") -> None:
        super().__init__(data)
        self._pipeline_choice(pipelines)
        if firm_wide:
            # Two small queries: a firm has tens of teams and staff, not thousands.
            everyone = [("", _("全部"))]
            teams = Team.objects.order_by("name").values_list("pk", "name")
            self.fields["team"].choices = everyone + list(teams)  # type: ignore[attr-defined]
            staff = User.objects.filter(is_active=True).order_by("display_name", "username")
            self.fields["rep"].choices = everyone + [(u.pk, str(u)) for u in staff]  # type: ignore[attr-defined]
        else:
            # A salesperson's reports are their own book: no other rep or team to pick.
            del self.fields["team"], self.fields["rep"]

    def _pipeline_choice(self, pipelines: str) -> None:
        """`pipelines`: "one" (a by-stage report: the default pipeline unless another is
        chosen), "any" (a filter: all of them unless one is chosen) or "" (no choice)."""
        if not pipelines:
            del self.fields["pipeline"]
            return
        found = list(Pipeline.objects.order_by("-is_default", "name").values_list("pk", "name"))
        everyone = [] if pipelines == "one" else [("", _("全部"))]
        self.fields["pipeline"].choices = everyone + found  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            self.report_filters = self._filters(data)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error(name, errors)
        return data

    def _filters(self, data: dict[str, Any]) -> ReportFilters:
        # The dates count with "custom", or with no preset at all (a link, a bookmark).
        preset = data.get("preset") or ""
        custom = preset == Preset.CUSTOM or not preset
        return report_filters(
            today=timezone.localdate(),
            preset=preset,
            since=data.get("since") if custom else None,
            until=data.get("until") if custom else None,
            period=data.get("period") or None,
            team_id=data.get("team"),
            owner_id=data.get("rep"),
            province=(data.get("province") or "").strip() or None,
            top=data.get("top"),
            pipeline_id=data.get("pipeline"),
        )
