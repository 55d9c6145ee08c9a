"""API shapes of the customer pool."""

import datetime

from ninja import Field, Schema

from kehu.parties.models import OwnershipKind
from kehu.tenancy.schemas import InSchema, PatchSchema, UserRef


class PoolSettingsOut(Schema):
    enabled: bool
    idle_days: int = Field(description="负责人连续这么多天未跟进的客户退回公海")
    claim_limit: int = Field(description="每人在统计周期内最多领取的客户数")
    claim_window_days: int = Field(description="领取上限的统计周期（天）")
    custodian: UserRef | None = Field(description="公海客户的代管人；为空则由最早的管理员代管")


class PoolSettingsPatch(PatchSchema):
    enabled: bool | None = None
    idle_days: int | None = Field(None, ge=1, le=3650)
    claim_limit: int | None = Field(None, ge=1, le=1000)
    claim_window_days: int | None = Field(None, ge=1, le=365)
    custodian: int | None = Field(None, description="员工编号（管理员或经理）")


class SweepOut(Schema):
    moved: int = Field(description="这次退回公海的客户数")


class ReleaseIn(InSchema):
    reason: str = Field(min_length=1, max_length=500)


class AssignIn(InSchema):
    owner: int = Field(description="新负责人员工编号")
    note: str = Field("", max_length=500)


class OwnershipChangeOut(Schema):
    id: int
    kind: OwnershipKind
    from_owner: UserRef | None
    to_owner: UserRef | None
    note: str
    changed_by: UserRef | None
    changed_at: datetime.datetime
