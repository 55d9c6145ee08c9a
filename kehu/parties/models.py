"""The customer archive (客户档案): parties, their roles, links, contacts and history."""

import re
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.fields import KeyField
from kehu.core.models import TenantManager, TenantOwned, Timestamped
from kehu.parties import normalize

WECHAT_ID = re.compile(r"^[A-Za-z][-_A-Za-z0-9]{5,19}$")
QQ_NUMBER = re.compile(r"^[1-9][0-9]{4,10}$")


class PartyKind(models.TextChoices):
    ORGANISATION = "organisation", _("组织")
    PERSON = "person", _("个人")


class RelationshipState(models.TextChoices):
    POTENTIAL = "potential", _("潜在")
    TARGET = "target", _("目标")
    CURRENT = "current", _("现实")
    LOST = "lost", _("流失")
    WON_BACK = "won_back", _("挽回")


# The moves a relationship may make (DOMAIN.md §2). A target may fall back to potential
# when the firm deselects it; a lost customer is won back, never simply "current" again.
STATE_MOVES: dict[str, frozenset[str]] = {
    RelationshipState.POTENTIAL: frozenset({RelationshipState.TARGET, RelationshipState.CURRENT}),
    RelationshipState.TARGET: frozenset({RelationshipState.POTENTIAL, RelationshipState.CURRENT}),
    RelationshipState.CURRENT: frozenset({RelationshipState.LOST}),
    RelationshipState.LOST: frozenset({RelationshipState.WON_BACK}),
    RelationshipState.WON_BACK: frozenset({RelationshipState.LOST}),
}


class PartyRoleKind(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    PROSPECT = "prospect", _("潜在客户")
    DISTRIBUTOR = "distributor", _("经销商")
    PARTNER = "partner", _("合作伙伴")
    INFLUENCER = "influencer", _("影响者")
    MEDIA = "media", _("媒体")
    GOVERNMENT = "government", _("政府部门")
    COMPETITOR = "competitor", _("竞争对手")


class Gender(models.TextChoices):
    UNKNOWN = "", _("未知")
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class LivePartyManager(TenantManager["Party"]):
    def get_queryset(self) -> models.QuerySet["Party"]:
        return super().get_queryset().filter(deleted_at__isnull=True)


# The parties the customer list shows: not deleted, not waiting in the customer pool.
LISTED = models.Q(deleted_at__isnull=True, in_pool_since__isnull=True)


class Party(TenantOwned, Timestamped):
    """An organisation or a person the firm has a relationship with."""

    kind = models.CharField(_("类型"), max_length=16, choices=PartyKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    name_pinyin = KeyField(_("拼音"), max_length=300, blank=True)
    name_initials = KeyField(_("拼音首字母"), max_length=100, blank=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, blank=True)
    industry = models.CharField(_("行业"), max_length=50, blank=True)
    website = models.URLField(_("网站"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=50, blank=True)
    description = models.TextField(_("备注"), max_length=5000, blank=True)
    relationship_state = models.CharField(
        _("关系状态"),
        max_length=16,
        choices=RelationshipState.choices,
        default=RelationshipState.POTENTIAL,
    )
    is_direct = models.BooleanField(_("直接客户"), default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_parties",
        verbose_name=_("负责人"),
    )
    # The primary address's region, kept here so that lists filter on one table.
    province = models.CharField(_("省"), max_length=20, blank=True)
    city = models.CharField(_("市"), max_length=20, blank=True)
    district = models.CharField(_("区"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The customer pool (公海, docs/decisions/0006-customer-pool.md): the last time the
    # owner did something with the party (the pool's idle clock), and, while the party
    # waits in the pool owned by its custodian, since when and whose it was before.
    owner_touched_at = models.DateTimeField(_("负责人最近跟进"), default=timezone.now)
    in_pool_since = models.DateTimeField(_("进入公海时间"), null=True, blank=True)
    pool_previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("原负责人"),
    )

    objects: ClassVar[LivePartyManager] = LivePartyManager()
    with_deleted = TenantManager["Party"]()

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        base_manager_name = "all_tenants"
        indexes = [
            # The list filters. (…, id) gives newest first from the index; partial on the
            # listed parties, so that the capped count is an index-only scan (2 ms, not a
            # 26 ms table scan, for a province at 1M parties on PostgreSQL).
            models.Index(
                fields=["tenant", "relationship_state", "id"],
                name="party_state_idx",
                condition=LISTED,
            ),
            models.Index(
                fields=["tenant", "owner", "id"], name="party_owner_idx", condition=LISTED
            ),
            models.Index(
                fields=["tenant", "province", "id"], name="party_province_idx", condition=LISTED
            ),
            models.Index(fields=["tenant", "city", "id"], name="party_city_idx", condition=LISTED),
            models.Index(fields=["tenant", "name_pinyin"], name="party_pinyin_idx"),
            models.Index(fields=["tenant", "updated_at"], name="party_updated_idx"),
            models.Index(
                fields=["tenant", "owner_touched_at"],
                condition=models.Q(in_pool_since__isnull=True),
                name="party_idle_idx",
            ),
            models.Index(
                fields=["tenant", "id"],
                condition=models.Q(in_pool_since__isnull=False),
                name="party_pool_idx",
            ),
            # The deleted ones (few): what deal reads leave out, found without a scan.
            models.Index(
                fields=["tenant", "id"],
                condition=models.Q(deleted_at__isnull=False),
                name="party_deleted_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "uscc"],
                condition=~models.Q(uscc=""),
                name="party_uscc_unique_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = normalize.text(self.name)
        if not self.name:
            raise ValidationError({"name": _("名称不能为空。")})
        if self.uscc:
            if self.kind != PartyKind.ORGANISATION:
                raise ValidationError({"uscc": _("只有组织才有统一社会信用代码。")})
            try:
                self.uscc = normalize.uscc(self.uscc)
            except ValidationError as exc:
                raise ValidationError({"uscc": exc.messages}) from exc
        if self.gender and self.kind != PartyKind.PERSON:
            raise ValidationError({"gender": _("只有个人才有性别。")})

    @property
    def is_organisation(self) -> bool:
        return self.kind == PartyKind.ORGANISATION

    @property
    def in_pool(self) -> bool:
        return self.in_pool_since is not None


class PartyRole(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("角色"), max_length=16, choices=PartyRoleKind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["party", "role"], name="party_role_unique")]
        indexes = [models.Index(fields=["tenant", "role", "party"], name="party_role_idx")]

    def __str__(self) -> str:
        return self.get_role_display()


class LinkKind(models.TextChoices):
    EMPLOYS = "employs", _("雇用")
    BUYS_THROUGH = "buys_through", _("通过其采购")
    REFERS = "refers", _("推荐")
    INFLUENCES = "influences", _("影响")
    COMPETES_WITH = "competes_with", _("竞争")


class PartyLink(TenantOwned):
    """A typed, directed link: <from_party> employs / buys through / refers … <to_party>."""

    from_party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="links_out")
    to_party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(_("关系"), max_length=16, choices=LinkKind.choices)
    title = models.CharField(_("职务"), max_length=50, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_party", "to_party", "kind"], name="party_link_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(from_party=models.F("to_party")), name="party_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_party} {self.get_kind_display()} {self.to_party}"


class ContactKind(models.TextChoices):
    MOBILE = "mobile", _("手机")
    PHONE = "phone", _("电话")
    EMAIL = "email", _("邮箱")
    WECHAT = "wechat", _("微信")
    QQ = "qq", _("QQ")


def contact_value(kind: str, value: str) -> str:
    """The value of a contact point of `kind` as it is kept (a phone in E.164, an email
    in lower case), or a ValidationError saying what is wrong with it."""
    value = normalize.text(value)
    if kind in {ContactKind.MOBILE, ContactKind.PHONE}:
        return normalize.phone(value, mobile=kind == ContactKind.MOBILE)
    if kind == ContactKind.EMAIL:
        value = value.lower()
        validate_email(value)
    elif kind == ContactKind.WECHAT and not WECHAT_ID.match(value):
        raise ValidationError(
            _("微信号应为 6–20 位字母、数字、下划线或减号，以字母开头：%(value)s")
            % {"value": value}
        )
    elif kind == ContactKind.QQ and not QQ_NUMBER.match(value):
        raise ValidationError(_("QQ 号应为 5–11 位数字：%(value)s") % {"value": value})
    return value


class ContactPoint(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="contact_points")
    kind = models.CharField(_("类型"), max_length=8, choices=ContactKind.choices)
    value = models.CharField(_("号码/地址"), max_length=120)
    label = models.CharField(_("标签"), max_length=30, blank=True)
    is_primary = models.BooleanField(_("首选"), default=False)

    class Meta:
        indexes = [models.Index(fields=["tenant", "kind", "value"], name="contact_value_idx")]

    def __str__(self) -> str:
        return self.display_value

    def clean(self) -> None:
        try:
            self.value = contact_value(self.kind, self.value)
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from exc

    @property
    def display_value(self) -> str:
        if self.kind in {ContactKind.MOBILE, ContactKind.PHONE}:
            return normalize.phone_display(self.value)
        return self.value


class AddressKind(models.TextChoices):
    OFFICE = "office", _("办公")
    BILLING = "billing", _("开票")
    SHIPPING = "shipping", _("收货")
    HOME = "home", _("住址")
    OTHER = "other", _("其他")


class Address(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(_("类型"), max_length=10, choices=AddressKind.choices)
    province = models.CharField(_("省"), max_length=20)
    city = models.CharField(_("市"), max_length=20, blank=True)
    district = models.CharField(_("区"), max_length=20, blank=True)
    street = models.CharField(_("详细地址"), max_length=200, blank=True)
    postcode = models.CharField(_("邮编"), max_length=6, blank=True)
    is_primary = models.BooleanField(_("首选"), default=False)

    def __str__(self) -> str:
        return "".join(p for p in (self.province, self.city, self.district, self.street) if p)

    def clean(self) -> None:
        for name in ("province", "city", "district", "street", "postcode"):
            setattr(self, name, normalize.text(getattr(self, name)))
        if self.postcode and not (len(self.postcode) == 6 and self.postcode.isdigit()):
            raise ValidationError({"postcode": _("邮编应为 6 位数字。")})


class Tag(TenantOwned):
    name = models.CharField(_("标签"), max_length=30)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tag_name_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class PartyTag(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="party_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="party_tags")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["party", "tag"], name="party_tag_unique")]
        indexes = [models.Index(fields=["tenant", "tag", "party"], name="party_tag_idx")]

    def __str__(self) -> str:
        return self.tag.name


class PreferenceCategory(models.TextChoices):
    PRODUCT = "product", _("产品偏好")
    COMMUNICATION = "communication", _("沟通偏好")
    SERVICE = "service", _("服务偏好")
    HABIT = "habit", _("习惯")
    INTEREST = "interest", _("兴趣爱好")
    OTHER = "other", _("其他")


class Preference(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="preferences")
    category = models.CharField(_("类别"), max_length=16, choices=PreferenceCategory.choices)
    content = models.CharField(_("内容"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.content


class DateKind(models.TextChoices):
    BIRTHDAY = "birthday", _("生日")
    ANNIVERSARY = "anniversary", _("纪念日")
    FOUNDING = "founding", _("成立日")
    CONTRACT = "contract", _("合同日")
    OTHER = "other", _("其他")


class ImportantDate(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="important_dates")
    kind = models.CharField(_("类型"), max_length=12, choices=DateKind.choices)
    date = models.DateField(_("日期"))
    label = models.CharField(_("说明"), max_length=50, blank=True)
    repeats_yearly = models.BooleanField(_("每年重复"), default=True)
    remind_days_before = models.PositiveSmallIntegerField(_("提前提醒天数"), default=3)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date}"


class AccountRole(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", _("客户经理")
    SALES = "sales", _("销售")
    SERVICE = "service", _("服务")
    TECHNICAL = "technical", _("技术支持")
    EXECUTIVE_SPONSOR = "executive_sponsor", _("高层联系人")


class AccountTeamMember(TenantOwned):
    """Staff besides the owner who serve a party: the relationship is the firm's."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="account_team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_teams"
    )
    role = models.CharField(_("角色"), max_length=20, choices=AccountRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party", "user"], name="account_team_unique")
        ]
        indexes = [models.Index(fields=["tenant", "user", "party"], name="account_team_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class StateChange(TenantOwned):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="state_changes")
    from_state = models.CharField(_("原状态"), max_length=16, choices=RelationshipState.choices)
    to_state = models.CharField(_("新状态"), max_length=16, choices=RelationshipState.choices)
    reason = models.CharField(_("原因"), max_length=500)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("时间"))

    class Meta:
        indexes = [models.Index(fields=["tenant", "party", "-changed_at"], name="state_change_idx")]


class OwnershipKind(models.TextChoices):
    EDIT = "edit", _("修改负责人")
    HANDOVER = "handover", _("工作交接")
    POOL_RELEASE = "pool_release", _("退回公海")
    POOL_AUTO_RELEASE = "pool_auto_release", _("超期自动退回公海")
    POOL_CLAIM = "pool_claim", _("从公海领取")
    POOL_ASSIGN = "pool_assign", _("从公海分配")


class OwnershipChange(TenantOwned):
    """A change of a party's owner: who had it, who has it, why, and the note left."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="ownership_changes")
    kind = models.CharField(_("方式"), max_length=20, choices=OwnershipKind.choices)
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("原负责人"),
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("新负责人"),
    )
    note = models.CharField(_("说明"), max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("负责人变更")
        verbose_name_plural = _("负责人变更")
        indexes = [
            models.Index(fields=["tenant", "party", "-changed_at"], name="ownership_party_idx"),
            # A rep's claims in the last days (the pool's claim limit).
            models.Index(
                fields=["tenant", "to_owner", "kind", "changed_at"], name="ownership_to_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class SearchKey(TenantOwned):
    """One string a party can be found by: a suffix of its name, its pinyin or initials,
    a phone number, an email. A search is one index range over these keys."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="+")
    key = KeyField(max_length=40)

    class Meta:
        indexes = [models.Index(fields=["tenant", "key", "party"], name="search_key_idx")]
