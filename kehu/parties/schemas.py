"""API shapes of the customer archive. Limits mirror the models; choices are their enums."""

import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import StringConstraints, field_validator

from kehu.core.pagination import PageParams
from kehu.parties.models import (
    AccountRole,
    AddressKind,
    ContactKind,
    DateKind,
    Gender,
    LinkKind,
    Party,
    PartyKind,
    PartyRoleKind,
    PreferenceCategory,
    RelationshipState,
)
from kehu.tenancy.schemas import InSchema, PatchSchema, UserRef

TagName = Annotated[str, StringConstraints(min_length=1, max_length=30)]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


class PartyRef(Schema):
    id: int
    kind: PartyKind
    name: str


class ContactIn(InSchema):
    kind: ContactKind
    value: str = Field(min_length=1, max_length=120, description="手机号、电话、邮箱、微信号或 QQ")
    label: str = Field("", max_length=30)
    is_primary: bool = False


class ContactOut(Schema):
    id: int
    kind: ContactKind
    value: str = Field(description="规范形式：电话为 E.164（+8613812345678），邮箱为小写")
    display_value: str
    label: str
    is_primary: bool


class AddressIn(InSchema):
    kind: AddressKind
    province: str = Field(min_length=1, max_length=20)
    city: str = Field("", max_length=20)
    district: str = Field("", max_length=20)
    street: str = Field("", max_length=200)
    postcode: str = Field("", max_length=6)
    is_primary: bool = False


class AddressOut(Schema):
    id: int
    kind: AddressKind
    province: str
    city: str
    district: str
    street: str
    postcode: str
    is_primary: bool


class TagIn(InSchema):
    name: str = Field(min_length=1, max_length=30)


class TagOut(Schema):
    id: int = Field(description="标签编号（也用于 ?tag= 筛选和删除）")
    name: str


class PreferenceIn(InSchema):
    category: PreferenceCategory
    content: str = Field(min_length=1, max_length=200)


class PreferenceOut(Schema):
    id: int
    category: PreferenceCategory
    content: str
    created_at: datetime.datetime


class ImportantDateIn(InSchema):
    kind: DateKind
    date: datetime.date
    label: str = Field("", max_length=50)
    repeats_yearly: bool = True
    remind_days_before: int = Field(3, ge=0, le=365)


class ImportantDateOut(Schema):
    id: int
    kind: DateKind
    date: datetime.date
    label: str
    repeats_yearly: bool
    remind_days_before: int


class LinkIn(InSchema):
    to_party: int = Field(description="另一方客户编号")
    kind: LinkKind
    title: str = Field("", max_length=50)
    note: str = Field("", max_length=200)


class LinkOut(Schema):
    id: int
    kind: LinkKind
    from_party: PartyRef
    to_party: PartyRef
    title: str
    note: str
    created_at: datetime.datetime


class AccountTeamIn(InSchema):
    user: int = Field(description="员工编号")
    role: AccountRole


class AccountTeamOut(Schema):
    id: int
    user: UserRef
    role: AccountRole


class RolesIn(InSchema):
    roles: list[PartyRoleKind] = Field(max_length=len(PartyRoleKind))

    @field_validator("roles")
    @classmethod
    def unique_roles(cls, roles: list[Any]) -> list[Any]:
        return _unique(roles)


class RolesOut(Schema):
    roles: list[PartyRoleKind]


class StateChangeIn(InSchema):
    to_state: RelationshipState
    reason: str = Field(min_length=1, max_length=500)


class StateChangeOut(Schema):
    id: int
    from_state: RelationshipState
    to_state: RelationshipState
    reason: str
    changed_by: UserRef | None
    changed_at: datetime.datetime


class PartyFields(InSchema):
    """What a client may set on a party (kind and state have their own rules)."""

    name: str = Field(min_length=1, max_length=100)
    uscc: str = Field("", max_length=18, description="统一社会信用代码（仅组织）")
    gender: Gender = Gender.UNKNOWN
    industry: str = Field("", max_length=50)
    website: str = Field("", max_length=200)
    source: str = Field("", max_length=50)
    description: str = Field("", max_length=5000)
    is_direct: bool = Field(True, description="直接客户（false 为间接客户）")
    owner: int | None = Field(None, description="负责人员工编号；默认为创建者")
    province: str = Field("", max_length=20)
    city: str = Field("", max_length=20)
    district: str = Field("", max_length=20)


class PartyIn(PartyFields):
    kind: PartyKind
    relationship_state: RelationshipState = RelationshipState.POTENTIAL
    roles: list[PartyRoleKind] = Field(default_factory=list, max_length=len(PartyRoleKind))
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=10)
    tags: list[TagName] = Field(default_factory=list, max_length=20)

    @field_validator("roles", "tags")
    @classmethod
    def unique_items(cls, items: list[Any]) -> list[Any]:
        return _unique(items)


class PartyPatch(PatchSchema):
    name: str | None = Field(None, min_length=1, max_length=100)
    uscc: str | None = Field(None, max_length=18)
    gender: Gender | None = None
    industry: str | None = Field(None, max_length=50)
    website: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=5000)
    is_direct: bool | None = None
    owner: int | None = Field(None, description="负责人员工编号")
    province: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=20)
    district: str | None = Field(None, max_length=20)


class PartyQuery(PageParams):
    q: str = Field("", max_length=100, description="搜索：名称任意部分、拼音、首字母、电话、邮箱")
    kind: PartyKind | None = None
    role: PartyRoleKind | None = None
    state: RelationshipState | None = Field(None, description="关系状态")
    owner: int | None = Field(None, description="负责人员工编号")
    team: int | None = Field(None, description="负责人所在团队编号")
    tag: int | None = Field(None, description="标签编号")
    province: str = Field("", max_length=20)
    city: str = Field("", max_length=20)
    is_direct: bool | None = None
    in_pool: bool | None = Field(
        None, description="true：只看公海中的客户；false：只看有负责人的客户；不填：全部"
    )


class PartyOut(Schema):
    id: int
    kind: PartyKind
    name: str
    name_pinyin: str
    name_initials: str
    uscc: str
    gender: Gender
    industry: str
    website: str
    source: str
    description: str
    relationship_state: RelationshipState
    is_direct: bool
    owner: UserRef
    province: str
    city: str
    district: str
    roles: list[PartyRoleKind]
    tags: list[TagOut]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    deleted_at: datetime.datetime | None
    owner_touched_at: datetime.datetime = Field(description="负责人最近一次跟进的时间")
    in_pool_since: datetime.datetime | None = Field(description="进入公海的时间；不在公海为空")
    pool_previous_owner: UserRef | None = Field(description="进入公海前的负责人")

    @staticmethod
    def resolve_roles(obj: Party) -> list[str]:
        return sorted(role.role for role in obj.roles.all())

    @staticmethod
    def resolve_tags(obj: Party) -> list[dict[str, Any]]:
        return [{"id": pt.tag_id, "name": pt.tag.name} for pt in obj.party_tags.all()]


class PartyDetailOut(PartyOut):
    contact_points: list[ContactOut]
    addresses: list[AddressOut]
    preferences: list[PreferenceOut]
    important_dates: list[ImportantDateOut]
    account_team: list[AccountTeamOut]
    links: list[LinkOut] = Field(description="本客户发出和收到的关系")

    @staticmethod
    def resolve_links(obj: Party) -> list[Any]:
        return [*obj.links_out.all(), *obj.links_in.all()]


class AuditEntryOut(Schema):
    id: int
    action: str
    object_type: str
    object_id: int
    object_repr: str
    changes: dict[str, Any]
    actor: UserRef | None
    created_at: datetime.datetime


class AuditQuery(PageParams):
    pass


class StateChangeQuery(PageParams):
    pass
