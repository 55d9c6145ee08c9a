"""Parsing what the customer archive's pages send. Forms parse; services decide.

The forms take their labels, lengths and choices from the models, and hand plain values
to the services, which hold the rules (a ValidationError from a service is put back on
the form by `kehu.core.web.add_service_errors`).
"""

from typing import Any

from django import forms
from django.db import models
from django.db.models import Q, QuerySet
from django.forms import BoundField
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import ShortListChoiceField, set_queryset
from kehu.dataio import quality
from kehu.parties import normalize
from kehu.parties.models import (
    STATE_MOVES,
    AccountTeamMember,
    Address,
    ContactKind,
    ContactPoint,
    ImportantDate,
    Party,
    PartyKind,
    PartyLink,
    PartyRoleKind,
    Preference,
    RelationshipState,
    StateChange,
    Tag,
)
from kehu.parties.selectors import PartyFilters, parties_visible_to
from kehu.tenancy.models import Team, User
from kehu.tenancy.selectors import active_staff, team_list


def model_field(model: type[models.Model], name: str, **overrides: Any) -> forms.Field:
    """The form field Django derives from a model field: its label, length and choices."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    form_field = field.formfield(**overrides)
    assert form_field is not None
    return form_field


def _yes_no(value: str) -> bool:
    return value == "1"


# The create form's optional first phone numbers and email, named by their ContactKind.
CONTACT_FIELDS = (ContactKind.MOBILE, ContactKind.PHONE, ContactKind.EMAIL)
DIRECT_CHOICES = [("1", _("直接客户")), ("0", _("间接客户"))]


class PartyFilterForm(forms.Form):
    """The list page's search box and filters; the query string of a shareable URL."""

    # Rendered by hand in list.html: it carries the htmx attributes of search-as-you-type.
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("类型"), required=False, choices=[("", _("全部类型")), *PartyKind.choices]
    )
    role = forms.ChoiceField(
        label=_("角色"), required=False, choices=[("", _("全部角色")), *PartyRoleKind.choices]
    )
    state = forms.ChoiceField(
        label=_("关系状态"),
        required=False,
        choices=[("", _("全部状态")), *RelationshipState.choices],
    )
    owner: forms.ModelChoiceField[User] = ShortListChoiceField(
        label=_("负责人"), required=False, queryset=None, empty_label=_("全部负责人")
    )
    team: forms.ModelChoiceField[Team] = ShortListChoiceField(
        label=_("团队"), required=False, queryset=None, empty_label=_("全部团队")
    )
    tag: forms.ModelChoiceField[Tag] = ShortListChoiceField(
        label=_("标签"), required=False, queryset=None, empty_label=_("全部标签")
    )
    province = forms.CharField(label=_("省"), required=False, max_length=20)
    city = forms.CharField(label=_("市"), required=False, max_length=20)
    direct = forms.TypedChoiceField(
        label=_("直接/间接"),
        required=False,
        choices=[("", _("直接和间接")), *DIRECT_CHOICES],
        coerce=_yes_no,
        empty_value=None,
    )
    # The data-quality page's links (kehu/dataio/quality.py).
    missing = forms.ChoiceField(
        label=_("缺少"),
        required=False,
        choices=[("", _("不限")), *((c.key, c.label) for c in quality.CHECKS)],
    )
    filled = forms.ChoiceField(
        label=_("已填写"),
        required=False,
        choices=[("", _("不限")), *((c.key, c.label) for c in quality.CHECKS)],
    )
    invalid = forms.ChoiceField(
        label=_("无效值"),
        required=False,
        choices=[("", _("不限")), (quality.ANY_INVALID, _("任一")), *quality.VALIDATED.items()],
    )
    duplicate = forms.TypedChoiceField(
        label=_("疑似重复"),
        required=False,
        choices=[("", _("不限")), ("1", _("待处理的疑似重复"))],
        coerce=_yes_no,
        empty_value=None,
    )
    stale = forms.IntegerField(
        label=_("客户久未互动（天）"),
        required=False,
        min_value=1,
        max_value=quality.STALE_DAYS_MAX,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Active staff to choose from; a departed owner asked for by a link (the
        # data-quality page's owner rows) is kept, so the list shows their parties.
        asked = str(self.data.get("owner", ""))
        departed = Q(pk=int(asked)) if asked.isdigit() else Q(pk__in=[])
        set_queryset(
            self,
            "owner",
            User.objects.filter(Q(is_active=True) | departed).order_by("display_name", "username"),
        )
        set_queryset(self, "team", team_list().prefetch_related(None))
        set_queryset(self, "tag", Tag.objects.order_by("name"))

    def filters(self) -> PartyFilters:
        """The valid filters; an invalid one (a stale link's owner id) is left out."""
        self.is_valid()
        data = self.cleaned_data
        return PartyFilters(
            q=data.get("q") or "",
            kind=data.get("kind") or "",
            role=data.get("role") or "",
            state=data.get("state") or "",
            owner_id=_pk(data.get("owner")),
            team_id=_pk(data.get("team")),
            tag_id=_pk(data.get("tag")),
            province=data.get("province") or "",
            city=data.get("city") or "",
            is_direct=data.get("direct"),
            missing=data.get("missing") or "",
            filled=data.get("filled") or "",
            invalid=data.get("invalid") or "",
            duplicate=bool(data.get("duplicate")),
            stale_days=data.get("stale"),
            in_pool=False,  # the customer list; the pool has its own page
        )


def _pk(obj: models.Model | None) -> int | None:
    return obj.pk if obj is not None else None


class PartyForm(forms.Form):
    """The fields of a party a person edits; organisations have a USCC, people a gender."""

    name = model_field(Party, "name")
    owner: forms.ModelChoiceField[User] = ShortListChoiceField(label=_("负责人"), queryset=None)
    is_direct = forms.TypedChoiceField(
        label=_("直接/间接"),
        choices=DIRECT_CHOICES,
        coerce=_yes_no,
        initial="1",
        widget=forms.RadioSelect,
    )
    uscc = model_field(Party, "uscc")
    gender = model_field(Party, "gender")
    industry = model_field(Party, "industry")
    website = model_field(Party, "website", assume_scheme="https")
    source = model_field(Party, "source")
    description = model_field(Party, "description", widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, kind: str, can_choose_owner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        del self.fields["gender" if kind == PartyKind.ORGANISATION else "uscc"]
        if kind == PartyKind.PERSON:
            self.fields["name"].label = _("姓名")
        if can_choose_owner:
            set_queryset(self, "owner", active_staff())
        else:
            del self.fields["owner"]

    def clean_uscc(self) -> str:
        # Checked here too, so that it is reported beside the form's other errors.
        code: str = self.cleaned_data["uscc"]
        return normalize.uscc(code) if code else ""

    def profile_fields(self) -> list[BoundField]:
        return [self[name] for name in self.fields if name not in CONTACT_FIELDS]

    def contact_fields(self) -> list[BoundField]:
        return [self[name] for name in self.fields if name in CONTACT_FIELDS]

    def party_fields(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name] for name in PartyForm.base_fields if name in self.fields
        }


def _normalised_phone(value: str, *, mobile: bool) -> str:
    return normalize.phone(value, mobile=mobile) if value else ""


class PartyCreateForm(PartyForm):
    """A new party, with its roles and, optionally, its first phone numbers and email."""

    field_order = ["name", "owner", "is_direct", "roles"]

    roles = forms.MultipleChoiceField(
        label=_("角色"),
        required=False,
        choices=PartyRoleKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    mobile = forms.CharField(label=_("手机"), required=False, max_length=30)
    phone = forms.CharField(label=_("电话"), required=False, max_length=30)
    email = forms.EmailField(label=_("邮箱"), required=False, max_length=120)

    def clean_mobile(self) -> str:
        return _normalised_phone(self.cleaned_data["mobile"], mobile=True)

    def clean_phone(self) -> str:
        return _normalised_phone(self.cleaned_data["phone"], mobile=False)

    def contacts(self) -> list[tuple[str, str]]:
        """(kind, value) pairs for party_create; the field names are ContactKind values."""
        return [
            (name, self.cleaned_data[name]) for name in CONTACT_FIELDS if self.cleaned_data[name]
        ]


class StateForm(forms.Form):
    """Move a relationship to one of the states its present state allows (STATE_MOVES)."""

    to_state = forms.ChoiceField(label=_("新状态"))
    reason = model_field(StateChange, "reason", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, party: Party, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        moves = STATE_MOVES.get(party.relationship_state, frozenset())
        field = self.fields["to_state"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(s.value, s.label) for s in RelationshipState if s in moves]


class PartForm(forms.Form):
    """The add form of one section of a party's archive: a phone, an address, a tag …

    Its cleaned data are the service's keyword arguments."""

    def __init__(
        self, data: Any = None, *, user: User, party: Party, section: str, **kwargs: Any
    ) -> None:
        super().__init__(data, auto_id=f"id_{section}_%s", **kwargs)
        self.actor = user
        self.party = party

    def service_kwargs(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class RoleForm(PartForm):
    role = forms.ChoiceField(label=_("角色"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taken = set(self.party.roles.values_list("role", flat=True))
        self.free_roles = [(r.value, r.label) for r in PartyRoleKind if r not in taken]
        field = self.fields["role"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("添加角色…")), *self.free_roles]

    def has_choices(self) -> bool:
        return bool(self.free_roles)


class TagForm(PartForm):
    name = forms.CharField(
        label=_("标签"),
        max_length=30,
        widget=forms.TextInput(attrs={"list": "tag-suggestions", "placeholder": _("新标签")}),
    )

    def suggestions(self) -> QuerySet[Tag, str]:
        """The tenant's tags, offered as the user types, so one idea keeps one name."""
        return Tag.objects.order_by("name").values_list("name", flat=True)


class ContactForm(PartForm):
    kind = model_field(ContactPoint, "kind")
    value = model_field(ContactPoint, "value")
    label = model_field(ContactPoint, "label")
    is_primary = model_field(ContactPoint, "is_primary")


class AddressForm(PartForm):
    kind = model_field(Address, "kind")
    province = model_field(Address, "province")
    city = model_field(Address, "city")
    district = model_field(Address, "district")
    street = model_field(Address, "street")
    postcode = model_field(Address, "postcode")
    is_primary = model_field(Address, "is_primary")


class PreferenceForm(PartForm):
    category = model_field(Preference, "category")
    content = model_field(Preference, "content")


class ImportantDateForm(PartForm):
    kind = model_field(ImportantDate, "kind")
    date = model_field(
        ImportantDate, "date", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    label = model_field(ImportantDate, "label")
    repeats_yearly = model_field(ImportantDate, "repeats_yearly")
    remind_days_before = model_field(ImportantDate, "remind_days_before")


class AccountTeamForm(PartForm):
    user: forms.ModelChoiceField[User] = ShortListChoiceField(label=_("员工"), queryset=None)
    role = model_field(AccountTeamMember, "role")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "user", active_staff())


LINK_OUT, LINK_IN = "out", "in"


class PartyLinkForm(PartForm):
    """A link between this party and another one the user may see, in either direction."""

    direction = forms.ChoiceField(
        label=_("方向"),
        choices=[(LINK_OUT, _("本客户 → 对方")), (LINK_IN, _("对方 → 本客户"))],
    )
    kind = model_field(PartyLink, "kind")
    other: forms.ModelChoiceField[Party] = forms.ModelChoiceField(
        label=_("对方"),
        queryset=None,
        widget=forms.HiddenInput,
        error_messages={
            "required": _("请先搜索并选择对方客户。"),
            "invalid_choice": _("找不到这个客户。"),
        },
    )
    title = model_field(PartyLink, "title")
    note = model_field(PartyLink, "note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "other", parties_visible_to(self.actor).exclude(pk=self.party.pk))

    def chosen(self) -> Party | None:
        """The other party picked before a failed submit, shown again as picked."""
        other = getattr(self, "cleaned_data", {}).get("other")
        return other if isinstance(other, Party) else None

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        ends = (self.party, data["other"])
        from_party, to_party = ends if data["direction"] == LINK_OUT else ends[::-1]
        return {
            "from_party": from_party,
            "to_party": to_party,
            "kind": data["kind"],
            "title": data["title"],
            "note": data["note"],
        }
