"""API shapes of imports."""

import datetime
from typing import Literal

from ninja import Field, Schema

from kehu.core.pagination import PageParams
from kehu.dataio.models import DuplicatePolicy, ImportStatus, ImportTarget, Outcome, Phase
from kehu.parties.models import PartyKind
from kehu.tenancy.schemas import InSchema, UserRef

UpsertKey = Literal["", "external_id", "uscc", "mobile", "email", "name"]


class ImportOut(Schema):
    id: int
    target: ImportTarget
    file_name: str
    file_format: str
    encoding: str
    status: ImportStatus
    total_rows: int | None
    rows_done: int
    percent: int
    counts: dict[str, int]
    error: str
    created_by: UserRef
    created_at: datetime.datetime
    finished_at: datetime.datetime | None


class FieldOut(Schema):
    key: str
    label: str
    many: bool


class ImportDetailOut(ImportOut):
    headers: list[str]
    mapping: dict[str, str] = Field(description="{列序号（从 0 起）: 字段}")
    options: dict[str, str]
    fields: list[FieldOut]
    resumable: bool


class OptionsIn(InSchema):
    key: UpsertKey = ""
    duplicates: DuplicatePolicy = DuplicatePolicy.SKIP
    default_kind: PartyKind = PartyKind.ORGANISATION
    source: str = Field("", max_length=50)


class MappingIn(InSchema):
    mapping: dict[str, str] = Field(description="{列序号（从 0 起）: 字段}；不导入的列省略")
    options: OptionsIn | None = None


class ImportRowOut(Schema):
    number: int
    outcome: Outcome
    party_id: int | None
    messages: list[str]


class ImportRowQuery(PageParams):
    phase: Phase | None = None
    outcome: Outcome | None = None
