"""Forms of the import pages: the upload, the column mapping with its options, a template."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.dataio import quality
from kehu.dataio.mapping import TargetField
from kehu.dataio.models import DuplicatePolicy, Import, ImportTarget
from kehu.parties.models import PartyKind

KEY_CHOICES = [
    ("", _("自动（有外部编号按外部编号，否则按统一社会信用代码或名称）")),
    ("external_id", _("外部编号")),
    ("uscc", _("统一社会信用代码")),
    ("mobile", _("手机")),
    ("email", _("邮箱")),
    ("name", _("名称（完全相同）")),
]


class UploadForm(forms.Form):
    target = forms.ChoiceField(
        label=_("导入什么"),
        choices=ImportTarget.choices,
        initial=ImportTarget.PARTIES,
        required=False,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(label=_("文件"), help_text=_("CSV、XLSX、XLS 或 vCard（.vcf）"))

    def clean_target(self) -> str:
        return str(self.cleaned_data.get("target") or ImportTarget.PARTIES)


class MappingForm(forms.Form):
    """One choice per column of the file, then the options of the run."""

    key = forms.ChoiceField(label=_("按什么识别已有客户"), choices=KEY_CHOICES, required=False)
    duplicates = forms.ChoiceField(
        label=_("疑似重复的行"), choices=DuplicatePolicy.choices, initial=DuplicatePolicy.SKIP
    )
    default_kind = forms.ChoiceField(
        label=_("没有「类型」列时，客户名称是"), choices=PartyKind.choices
    )
    source = forms.CharField(
        label=_("来源系统"),
        max_length=50,
        required=False,
        help_text=_("外部编号属于哪个系统；留空则用文件名。"),
    )

    def __init__(self, *args: Any, job: Import, fields: list[TargetField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("（不导入）")), *((f.key, f.label) for f in fields)]
        self.columns: list[tuple[str, str, str]] = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header or _("第 %(n)s 列") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
            )
            self.columns.append((name, header, str(index)))
        self.option_names: tuple[str, ...] = ("key", "duplicates", "default_kind", "source")
        if job.target != ImportTarget.PARTIES:
            # The party options mean nothing here: only the 来源系统 of the ids.
            for option in self.option_names[:-1]:
                del self.fields[option]
            self.option_names = ("source",)
            self.fields["source"].help_text = _(
                "外部编号、客户编号属于哪个系统；留空则外部编号按文件名区分，客户编号不限来源。"
            )
        for option in self.option_names:
            self.fields[option].initial = job.options.get(option, self.fields[option].initial)

    def column_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, _header, _index in self.columns]

    def mapping(self) -> dict[str, str]:
        return {
            index: self.cleaned_data[name]
            for name, _h, index in self.columns
            if self.cleaned_data[name]
        }

    def options(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in self.option_names}


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("模板名称"), max_length=50)


class QualityForm(forms.Form):
    """The data-quality page's query string: the stale window in days, and an owner."""

    days = forms.IntegerField(
        label=_("久未互动天数"),
        required=False,
        min_value=1,
        max_value=quality.STALE_DAYS_MAX,
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value"), _("久未互动天数应为 1 到 3650 之间的整数。")
        ),
    )
    owner = forms.IntegerField(required=False, min_value=1)
