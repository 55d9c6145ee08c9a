"""Forms of the interaction and task pages. They parse; views authorise; services decide."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.activities.models import (
    MAX_SERVICE_MINUTES,
    MAX_TASK_MINUTES,
    InteractionKind,
    ServiceKind,
    TaskStatus,
)
from kehu.core.forms import ShortListChoiceField, set_queryset
from kehu.tenancy.forms import PageForm
from kehu.tenancy.models import User
from kehu.tenancy.selectors import active_staff

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
MAX_DURATION_MINUTES = 7 * 24 * 60


class PartyIdsField(forms.Field):
    """Several party ids (checkboxes named `parties`); which of them the user may see is
    the view's question, not the form's."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("至少选择一个客户。"),
        "invalid": _("客户编号无效。"),
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return [int(v) for v in value]
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class InteractionForm(PageForm):
    kind = forms.ChoiceField(
        label=_("类型"), choices=InteractionKind.choices, initial=InteractionKind.CALL
    )
    subject = forms.CharField(label=_("主题"), max_length=200)
    body = forms.CharField(
        label=_("内容"), max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    occurred_at = forms.DateTimeField(
        label=_("发生时间"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    duration_minutes = forms.IntegerField(
        label=_("时长（分钟）"), min_value=0, max_value=MAX_DURATION_MINUTES, required=False
    )
    parties = PartyIdsField(label=_("客户"))
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        if editing:  # a correction keeps the parties it was logged with
            del self.fields["parties"]

    def interaction_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("next", "parties")}


class InteractionFilterForm(forms.Form):
    """The filters of the interaction list; a value it does not know is ignored."""

    kind = forms.ChoiceField(
        label=_("类型"),
        choices=[("", _("全部类型")), *InteractionKind.choices],
        required=False,
    )

    def kind_filter(self) -> str:
        return self.cleaned_data.get("kind", "") if self.is_valid() else ""


class TaskForm(PageForm):
    title = forms.CharField(label=_("任务"), max_length=200)
    note = forms.CharField(
        label=_("说明"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    due_date = forms.DateField(
        label=_("截止日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    assignee: "forms.ModelChoiceField[User]" = ShortListChoiceField(
        label=_("执行人"), queryset=None
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the queryset is scoped to the tenant active at that moment.
        set_queryset(self, "assignee", active_staff())
        self.fields["due_date"].initial = timezone.localdate()


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TaskStatus.choices)
    time_spent_minutes = forms.IntegerField(
        label=_("用时（分钟）"), min_value=0, max_value=MAX_TASK_MINUTES, required=False
    )
    next = forms.CharField(required=False)


class ServiceTimeForm(PageForm):
    """Minutes of work for a party on one day."""

    worked_on = forms.DateField(
        label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    minutes = forms.IntegerField(
        label=_("时长（分钟）"),
        min_value=1,
        max_value=MAX_SERVICE_MINUTES,
        help_text=_("一条记录最多 24 小时（1440 分钟）。"),
    )
    kind = forms.ChoiceField(
        label=_("工作类型"), choices=ServiceKind.choices, initial=ServiceKind.SERVICE
    )
    note = forms.CharField(
        label=_("说明"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["worked_on"].initial = timezone.localdate()

    def entry_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "next"}
