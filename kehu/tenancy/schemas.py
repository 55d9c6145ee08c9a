"""API shapes of staff, teams, invitations and tokens; `InSchema` for every request body."""

import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from kehu.core.pagination import PageParams
from kehu.tenancy.models import Role, Visibility


class InSchema(Schema):
    """A request body: unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PatchSchema(InSchema):
    """A partial update: leave a field out to keep it; null is not a value here."""

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(_("不能为 null；不修改的字段请省略。"))
        return value


class UserRef(Schema):
    id: int
    username: str
    display_name: str


class TenantOut(Schema):
    id: int
    name: str
    slug: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    role: Role
    visibility: Visibility
    effective_visibility: Visibility
    language: str
    tenant: TenantOut
    can_write: bool
    can_manage: bool
    is_tenant_admin: bool


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    mobile: str
    role: Role
    visibility: Visibility
    is_active: bool


class StaffPatch(PatchSchema):
    display_name: str | None = Field(None, min_length=1, max_length=50)
    role: Role | None = None
    visibility: Visibility | None = None
    is_active: bool | None = None


class StaffQuery(PageParams):
    pass


class InvitationIn(InSchema):
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field("", max_length=50)
    role: Role = Role.SALES
    visibility: Visibility = Visibility.OWN


class InvitationOut(Schema):
    id: int
    email: str
    display_name: str
    role: Role
    visibility: Visibility
    created_at: datetime.datetime
    expires_at: datetime.datetime
    accepted_at: datetime.datetime | None


class InvitationCreatedOut(InvitationOut):
    link: str = Field(description="邀请链接，只在创建时返回一次（同时已发送邮件）")


class TeamIn(InSchema):
    name: str = Field(min_length=1, max_length=50)


class TeamMemberIn(InSchema):
    user: int = Field(description="员工编号")
    is_lead: bool = False


class TeamMemberOut(Schema):
    user: UserRef
    is_lead: bool


class TeamOut(Schema):
    id: int
    name: str
    members: list[TeamMemberOut]

    @staticmethod
    def resolve_members(obj: Any) -> list[Any]:
        return list(obj.memberships.all())


class TokenIn(InSchema):
    name: str = Field(min_length=1, max_length=50)


class TokenOut(Schema):
    id: int
    name: str
    hint: str = Field(description="令牌开头几位，用来辨认")
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="完整令牌，只在创建时返回一次，请妥善保存")


class HoldingOut(Schema):
    kind: str = Field(
        description="party（客户）、account_team（客户团队成员身份）、task（待办任务）、"
        "opportunity（进行中的商机）、lead（未处理完的线索）"
    )
    id: int
    label: str
    party_id: int | None

    @staticmethod
    def resolve_id(obj: Any) -> int:
        return int(obj.pk)


class HandoverIn(InSchema):
    receivers: list[int] = Field(
        min_length=1, max_length=50, description="接收人员工编号；多人时按客户轮流分配"
    )
    note: str = Field(min_length=1, max_length=500, description="交接说明，写进每条记录的历史")
    only: dict[str, list[int]] | None = Field(
        None, description="只交接这些记录：{类型: [编号]}；不填则全部交接"
    )


class HandedOverOut(Schema):
    holding: HoldingOut
    receiver: UserRef


class HandoverOut(Schema):
    moved: list[HandedOverOut]
    counts: dict[str, int]
