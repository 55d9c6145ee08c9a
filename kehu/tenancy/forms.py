"""Forms of the sign-in, staff, team and token pages. They parse; services decide."""

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import ShortListChoiceField, set_queryset
from kehu.tenancy.models import Role, User, Visibility
from kehu.tenancy.selectors import active_staff


class PageForm(forms.Form):
    """A form of a kehu page: no label colon (the label sits above its field), and rows
    with errors marked `invalid` for the site stylesheet."""

    error_css_class = "invalid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SignInForm(AuthenticationForm):
    error_css_class = "invalid"

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(request, *args, **kwargs)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class StaffForm(PageForm):
    """A colleague's name, role, visibility and active flag (what staff_update may change)."""

    display_name = forms.CharField(label=_("姓名"), max_length=50, required=False)
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    visibility = forms.ChoiceField(
        label=_("可见范围"),
        choices=Visibility.choices,
        help_text=_("管理员总能看到全部客户。"),
    )
    is_active = forms.BooleanField(label=_("在职"), required=False)

    @classmethod
    def for_user(cls, user: User) -> "StaffForm":
        return cls(initial={name: getattr(user, name) for name in cls.base_fields})


class InvitationForm(PageForm):
    email = forms.EmailField(label=_("邮箱"), max_length=254)
    display_name = forms.CharField(label=_("姓名"), max_length=50, required=False)
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices, initial=Role.SALES)
    visibility = forms.ChoiceField(
        label=_("可见范围"), choices=Visibility.choices, initial=Visibility.OWN
    )


class AcceptInvitationForm(PageForm):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("登录时使用；字母、数字和 @ . + - _。"),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("再次输入密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("两次输入的密码不一致。"))
        return data


class TeamNameForm(PageForm):
    name = forms.CharField(label=_("团队名称"), max_length=50)


class TeamMemberForm(PageForm):
    user: "forms.ModelChoiceField[User]" = ShortListChoiceField(label=_("员工"), queryset=None)
    is_lead = forms.BooleanField(label=_("负责人"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the queryset is scoped to the tenant active at that moment.
        set_queryset(self, "user", active_staff())


class TokenForm(PageForm):
    name = forms.CharField(
        label=_("名称"), max_length=50, help_text=_("例如：数据同步脚本、BI 报表。")
    )


class HandoverForm(PageForm):
    receivers: "forms.ModelMultipleChoiceField[User]" = forms.ModelMultipleChoiceField(
        label=_("接收人"), queryset=None, help_text=_("可选多人：按客户轮流分配。")
    )
    note = forms.CharField(
        label=_("交接说明"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, giver: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelMultipleChoiceField[User]", self.fields["receivers"])
        field.queryset = active_staff().exclude(pk=giver.pk)
