"""Importing parties: organisations and people, with their contact points, address,
tags, roles, owner, external id, and the contact person of an organisation.

A batch is handled set-based: every row is parsed and checked by the archive's own rules
(`kehu.dataio.checks`: `party_clean` and `ContactPoint.clean` on reused instances), then
matched against the archive with one query per lookup for the whole batch and against the
rows before it in the file, then written as plain rows with reserved ids, one statement
per table (`kehu.core.bulk.BulkWriter`: executemany on SQLite, COPY on PostgreSQL) —
parties, contact points, addresses, tags, roles, links, external keys, search keys and
audit entries — the same rows `parties.services` writes one by one (a test compares them).

The shape of a row: a 客户名称 makes an organisation (or a person, when the row's 类型
says so); a 联系人 beside it makes a person the organisation `employs`, titled by 职位.
Mobiles, emails, WeChat and QQ belong to that person when there is one; landlines and
everything else to the organisation. A row with only a 联系人 is a person.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.audit import diff, snapshot
from kehu.core.bulk import AUDIT_COLUMNS, BulkWriter, Row
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.dataio import checks, duplicates, normalizers
from kehu.dataio.mapping import TargetField
from kehu.dataio.models import DuplicatePolicy, ExternalKey, Import, Outcome
from kehu.dataio.targets import RowResult, SourceRow
from kehu.dataio.targets.common import PlannedTarget
from kehu.parties import search
from kehu.parties.models import (
    Address,
    ContactKind,
    ContactPoint,
    LinkKind,
    Party,
    PartyKind,
    PartyLink,
    PartyRole,
    PartyRoleKind,
    PartyTag,
    SearchKey,
    Tag,
)
from kehu.parties.selectors import parties_visible_to
from kehu.parties.services import (
    ADDRESS_FIELDS,
    PARTY_FIELDS,
)
from kehu.tenancy.models import User

F = TargetField
PARTY_FIELDS_IMPORTED = [
    F(
        "external_id",
        gettext_lazy("外部编号"),
        ("外部编号", "客户编号", "客户ID", "编号", "External ID", "Customer ID", "ID"),
    ),
    F("kind", gettext_lazy("类型（组织/个人）"), ("类型", "客户性质", "主体类型", "Kind", "Type")),
    F(
        "name",
        gettext_lazy("客户名称"),
        (
            "客户名称",
            "公司名称",
            "公司",
            "单位",
            "单位名称",
            "企业名称",
            "企业",
            "名称",
            "客户",
            "Company",
            "Company Name",
            "Organisation",
            "Organization",
            "Account",
            "Account Name",
            "Name",
        ),
    ),
    F(
        "contact",
        gettext_lazy("联系人"),
        ("联系人", "姓名", "联系人姓名", "名字", "Contact", "Contact Name", "Full Name"),
    ),
    F("title", gettext_lazy("职位"), ("职位", "职务", "Title", "Job Title", "Position")),
    F("gender", gettext_lazy("性别"), ("性别", "Gender", "Sex")),
    F(
        "mobile",
        gettext_lazy("手机"),
        ("手机", "手机号", "手机号码", "移动电话", "Mobile", "Cell", "Cellphone", "Mobile Phone"),
        many=True,
    ),
    F(
        "phone",
        gettext_lazy("电话"),
        ("电话", "座机", "固话", "联系电话", "办公电话", "Phone", "Tel", "Telephone"),
        many=True,
    ),
    F(
        "email",
        gettext_lazy("邮箱"),
        ("邮箱", "电子邮件", "电子邮箱", "邮件", "Email", "E-mail", "Mail"),
        many=True,
    ),
    F("wechat", gettext_lazy("微信"), ("微信", "微信号", "WeChat", "Weixin")),
    F("qq", gettext_lazy("QQ"), ("QQ", "QQ号")),
    F("province", gettext_lazy("省"), ("省", "省份", "Province", "State")),
    F("city", gettext_lazy("市"), ("市", "城市", "City")),
    F("district", gettext_lazy("区"), ("区", "县", "区县", "District", "County")),
    F(
        "address",
        gettext_lazy("地址"),
        ("地址", "详细地址", "联系地址", "公司地址", "Address", "Street"),
    ),
    F("postcode", gettext_lazy("邮编"), ("邮编", "邮政编码", "Postcode", "Zip")),
    F("industry", gettext_lazy("行业"), ("行业", "所属行业", "Industry")),
    F("website", gettext_lazy("网站"), ("网站", "网址", "官网", "Website", "URL")),
    F("source", gettext_lazy("来源"), ("来源", "客户来源", "Source", "Lead Source")),
    F(
        "description",
        gettext_lazy("备注"),
        ("备注", "说明", "描述", "Notes", "Note", "Description", "Remark"),
    ),
    F(
        "owner",
        gettext_lazy("负责人"),
        ("负责人", "销售", "业务员", "客户经理", "Owner", "Sales Rep"),
    ),
    F("tags", gettext_lazy("标签"), ("标签", "Tags", "Tag"), many=True),
    F("roles", gettext_lazy("角色"), ("角色", "客户类型", "客户类别", "Role")),
    F(
        "uscc",
        gettext_lazy("统一社会信用代码"),
        ("统一社会信用代码", "信用代码", "税号", "纳税人识别号", "USCC", "Tax ID"),
    ),
]
PARTY_FIELDS_BY_KEY = {f.key: f for f in PARTY_FIELDS_IMPORTED}
# Natural keys a re-import may be matched by; the external id needs a 外部编号 column.
UPSERT_KEYS = ("external_id", "uscc", "mobile", "email", "name")
CONTACT_KINDS = tuple(ContactKind.values)
PERSON_CONTACTS = (ContactKind.MOBILE, ContactKind.EMAIL, ContactKind.WECHAT, ContactKind.QQ)
_KIND_WORDS = {
    **dict.fromkeys(
        ("组织", "公司", "企业", "单位", "机构", "organisation", "organization", "company", "b2b"),
        PartyKind.ORGANISATION,
    ),
    **dict.fromkeys(("个人", "个体", "自然人", "person", "individual", "b2c"), PartyKind.PERSON),
}
_GENDER_WORDS = {
    "男": "male",
    "male": "male",
    "m": "male",
    "女": "female",
    "female": "female",
    "f": "female",
}
_SCALARS = ("industry", "website", "source", "description")
Action = AuditEntry.Action


@dataclass(eq=False)  # a draft is one row's party: compared by identity
class Draft:
    """What one row says about one party, checked, before matching."""

    kind: str
    fields: dict[str, Any]
    contacts: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    address: dict[str, str] | None = None
    party: Party | None = None  # the party in the archive this row updates
    pk: int | None = None  # the id of the party this row creates, once reserved
    # Made ahead by the helper process (kehu.dataio.ahead) for a party a run may create:
    # (name_pinyin, name_initials) and the search keys.
    pinyin: tuple[str, str] | None = None
    keys: set[str] | None = None

    @property
    def id(self) -> int | None:
        return self.party.pk if self.party is not None else self.pk

    @property
    def name(self) -> str:
        return str(self.fields["name"])

    def first(self, kind: str) -> str:
        return next((v for k, v in self.contacts if k == kind), "")


@dataclass
class Plan:
    number: int
    main: Draft | None = None
    person: Draft | None = None  # the organisation's contact person
    title: str = ""
    external_id: str = ""
    errors: list[str] = field(default_factory=list)
    outcome: str = ""
    notes: list[str] = field(default_factory=list)
    # The party this row is likely a duplicate of, when the import creates it anyway.
    duplicate_of: int | None = None

    def result(self) -> RowResult:
        party_id = self.main.id if self.main else None
        return RowResult(self.number, self.outcome, party_id, self.errors + self.notes)


class PartyTarget(PlannedTarget):
    fields = PARTY_FIELDS_IMPORTED

    def __init__(self, job: Import) -> None:
        super().__init__(job)
        self.key = job.option("key") or self._default_key()
        self.policy = job.option("duplicates", DuplicatePolicy.SKIP)
        self.default_kind: str = job.option("default_kind", PartyKind.ORGANISATION)
        self.source = job.option("source") or job.file_name
        self.party_checker = checks.party_checker()
        self.address_checker = checks.address_checker()
        self.contact_checker = checks.ContactChecker()
        self.role_words = {str(label): value for value, label in PartyRoleKind.choices} | {
            v: v for v in PartyRoleKind.values
        }
        # What the parties matched in the current batch already have (see _changes).
        self.have_contacts: dict[int, set[Any]] = {}
        self.have_tags: dict[int, set[Any]] = {}
        self.have_roles: dict[int, set[Any]] = {}
        self.have_addresses: dict[int, set[Any]] = {}
        self.have_keys: set[int] = set()
        # The file's keys seen so far, across batches: {hash of (key, value): row}.
        self.seen: dict[int, int] = {}
        self.natural: dict[int, int] = {}

    def _default_key(self) -> str:
        return next((k for k in ("external_id", "uscc") if k in self.columns), "name")

    # Parsing one row.

    def prepare_planning(self) -> None:
        """Read what planning needs from the database (the staff a 负责人 names), so that
        a helper process can plan rows without it (kehu.dataio.ahead)."""
        _ = self.staff

    def plan_rows(self, rows: Sequence[SourceRow], *, write: bool) -> list[Plan]:
        """The rows' plans, and for a run the pinyin and search keys each party would be
        created with (in the helper process: this process then only matches and writes)."""
        plans = [self._plan(row) for row in rows]
        if write:
            for plan in plans:
                if plan.errors:
                    continue
                for draft in (plan.main, plan.person):
                    if draft is not None:
                        draft.pinyin = checks.pinyin(draft.name)
                        draft.keys = search.keys_for(draft.name, draft.contacts)
        return plans

    def _plan(self, row: SourceRow) -> Plan:
        plan = Plan(row.number)
        kind = self._kind(row, plan)
        name_col, name = self._cell(row, "name")
        contact_col, contact = self._cell(row, "contact")
        if not name and not contact:
            self._error(plan, -1, [_("客户名称和联系人都为空。")])
            return plan
        if kind == PartyKind.PERSON or not name:
            plan.main = self._draft(
                row, plan, PartyKind.PERSON, name or contact, name_col if name else contact_col
            )
        else:
            plan.main = self._draft(row, plan, PartyKind.ORGANISATION, name, name_col)
            if contact:
                plan.person = self._draft(
                    row, plan, PartyKind.PERSON, contact, contact_col, person_only=True
                )
                plan.title = normalizers.text(self._cell(row, "title")[1])[:50]
        plan.external_id = normalizers.text(self._cell(row, "external_id")[1])[:100]
        if self.key == "external_id" and not plan.external_id and not plan.errors:
            self._error(plan, -1, [_("外部编号为空，无法按外部编号匹配。")])
        return plan

    def _kind(self, row: SourceRow, plan: Plan) -> str:
        column, value = self._cell(row, "kind")
        if not value:
            return self.default_kind if self._cell(row, "name")[1] else PartyKind.PERSON
        kind: str | None = _KIND_WORDS.get(normalizers.text(value).lower())
        if kind is None:
            self._error(
                plan, column, [_("类型应为「组织」或「个人」：%(value)s") % {"value": value}]
            )
            return self.default_kind
        return kind

    def _draft(
        self,
        row: SourceRow,
        plan: Plan,
        kind: str,
        name: str,
        name_col: int,
        *,
        person_only: bool = False,
    ) -> Draft:
        """One party of the row, checked by the archive's rules; errors go on the plan."""
        is_main = not person_only
        draft = Draft(kind, {"name": name, "kind": kind})
        if is_main:
            for key in _SCALARS:
                draft.fields[key] = normalizers.text(self._cell(row, key)[1])
            draft.fields["uscc"] = (
                self._cell(row, "uscc")[1] if kind == PartyKind.ORGANISATION else ""
            )
            draft.fields["owner"] = self._owner(row, plan)
            self._region(row, plan, draft)
            draft.tags = self._tags(row, plan)
            draft.roles = self._roles(row, plan)
        if kind == PartyKind.PERSON and (person_only or plan.person is None):
            draft.fields["gender"] = self._gender(row, plan)
        own: set[str] = set(PERSON_CONTACTS) if person_only else set(CONTACT_KINDS)
        if is_main and kind == PartyKind.ORGANISATION and self._cell(row, "contact")[1]:
            own -= set(PERSON_CONTACTS)
        draft.contacts = self._contacts(row, plan, own)
        self._check(plan, draft, name_col)
        return draft

    def _owner(self, row: SourceRow, plan: Plan) -> User:
        return self._staff_in(row, plan, "owner")

    def _gender(self, row: SourceRow, plan: Plan) -> str:
        column, value = self._cell(row, "gender")
        if not value:
            return ""
        gender = _GENDER_WORDS.get(normalizers.text(value).lower())
        if gender is None:
            self._error(plan, column, [_("性别应为「男」或「女」：%(value)s") % {"value": value}])
        return gender or ""

    def _tags(self, row: SourceRow, plan: Plan) -> list[str]:
        tags: list[str] = []
        for column, value in self._cells(row, "tags"):
            for tag in normalizers.many(value):
                if len(tag) > 30:
                    self._error(plan, column, [_("标签应为 1–30 个字符。")])
                elif tag not in tags:
                    tags.append(tag)
        return tags

    def _roles(self, row: SourceRow, plan: Plan) -> list[str]:
        words = self.role_words
        roles: list[str] = []
        column, value = self._cell(row, "roles")
        for word in normalizers.many(value):
            role = words.get(word) or words.get(word.lower())
            if role is None:
                self._error(plan, column, [_("不是已知的角色：%(value)s") % {"value": word}])
            elif role not in roles:
                roles.append(role)
        return roles

    def _region(self, row: SourceRow, plan: Plan, draft: Draft) -> None:
        """Province, city and district from their columns or off the front of 地址."""
        address_col, street = self._cell(row, "address")
        province, city, district = "", "", ""
        if street:
            province, city, district, street = normalizers.split_address(street)
        province_col, written = self._cell(row, "province")
        try:
            if written:
                province = normalizers.province(written)
            _city_col, written_city = self._cell(row, "city")
            if written_city:
                province, city = normalizers.city(written_city, province)
        except ValidationError as exc:
            self._error(plan, province_col, exc.messages)
            return
        if city and street and not district:
            district, street = normalizers.split_district(street)
        district = normalizers.text(self._cell(row, "district")[1]) or district
        postcode = normalizers.text(self._cell(row, "postcode")[1])
        if not (province or street):
            return
        if not province:
            self._error(
                plan, address_col, [_("无法从地址中识别省份：%(value)s") % {"value": street}]
            )
            return
        draft.fields.update(province=province, city=city, district=district)
        draft.address = {
            "province": province,
            "city": city,
            "district": district,
            "street": street,
            "postcode": postcode,
        }
        for messages in self.address_checker.clean(draft.address).values():
            self._error(plan, address_col, messages)

    def _contacts(self, row: SourceRow, plan: Plan, kinds: set[str]) -> list[tuple[str, str]]:
        contacts: list[tuple[str, str]] = []
        for kind in CONTACT_KINDS:
            if kind not in kinds:
                continue
            for column, value in self._cells(row, kind):
                for one in normalizers.many(value):
                    try:
                        # The archive's own rule for this kind of contact.
                        clean = self.contact_checker.clean(kind, one)
                    except ValidationError as exc:
                        self._error(plan, column, exc.messages)
                        continue
                    if (kind, clean) not in contacts:
                        contacts.append((kind, clean))
        return contacts

    def _check(self, plan: Plan, draft: Draft, name_col: int) -> None:
        """`party_clean(party, check_unique=False)`: the archive's rules for a party."""
        for name, messages in self.party_checker.clean(draft.fields).items():
            column = name_col if name == "name" else self._cell_column(name)
            self._error(plan, column, messages)

    # Matching against the archive and within the batch.

    def _match(self, plans: Sequence[Plan]) -> None:
        found = self._lookup([p for p in plans if p.main], self.key)
        likely = self._duplicates(plans)
        visible = self._visible({p.pk for p in (*found.values(), *likely.values())})
        seen = self.seen
        for plan in plans:
            assert plan.main is not None
            key = self._key_of(plan, self.key)
            marked = hash((self.key, key))
            if key and marked in seen:
                plan.outcome = Outcome.DUPLICATE
                plan.notes.append(
                    _("第 %(row)s 行：与文件第 %(other)s 行是同一客户，已跳过。")
                    % {"row": plan.number, "other": seen[marked]}
                )
                continue
            if key:
                seen[marked] = plan.number
            existing = found.get(key) if key else None
            if existing is None and plan.number in likely:
                existing = self._on_duplicate(plan, likely[plan.number])
                if plan.outcome:
                    continue
            if existing is None and self._in_file_duplicate(plan):
                continue
            if existing is not None and existing.pk not in visible:
                self._error(plan, -1, [_("已有相同的客户，但不在您的可见范围内。")])
                continue
            plan.outcome = Outcome.CREATED if existing is None else Outcome.UPDATED
            if existing is not None:
                plan.main.party = existing
        self._match_people([p for p in plans if p.outcome == Outcome.UPDATED and p.person])
        self._uscc_taken([p for p in plans if p.outcome == Outcome.CREATED])
        self._changes([p for p in plans if p.outcome == Outcome.UPDATED])

    def _in_file_duplicate(self, plan: Plan) -> bool:
        """A row that would create a party sharing a 统一社会信用代码, a mobile or an email
        with a row before it in the file (not the upsert key: that is the same party).
        Checked across batches, so the dry run finds what the run would find in the
        archive once the earlier rows are written; the file's values are kept as hashes
        (a million rows: tens of MB). With the policy "create anyway" there is no check."""
        if self.policy == DuplicatePolicy.CREATE:
            return False
        marks = [
            (key, value, hash((key, value)))
            for key in ("uscc", "mobile", "email")
            if key != self.key and (value := self._key_of(plan, key))
        ]
        other = next((self.natural[m] for _k, _v, m in marks if m in self.natural), None)
        if other is not None:
            plan.outcome = Outcome.DUPLICATE
            plan.notes.append(
                _("第 %(row)s 行：与文件第 %(other)s 行的手机、邮箱或信用代码相同，疑似重复。")
                % {"row": plan.number, "other": other}
            )
            return True
        for _key, _value, mark in marks:
            self.natural[mark] = plan.number
        return False

    def _on_duplicate(self, plan: Plan, other: Party) -> Party | None:
        note = _("第 %(row)s 行：疑似与已有客户「%(name)s」（#%(id)s）重复。") % {
            "row": plan.number,
            "name": other.name,
            "id": other.pk,
        }
        plan.notes.append(note)
        # Updating makes sense only for a party of the same kind (not an organisation's
        # row onto the person who shares its contact's mobile): otherwise it is skipped.
        same_kind = plan.main is not None and other.kind == plan.main.kind
        if self.policy == DuplicatePolicy.SKIP or (
            self.policy == DuplicatePolicy.UPDATE and not same_kind
        ):
            plan.outcome = Outcome.DUPLICATE
            return None
        if self.policy == DuplicatePolicy.CREATE and same_kind:
            plan.duplicate_of = other.pk  # created, then queued for review with it
        return other if self.policy == DuplicatePolicy.UPDATE else None

    def _key_of(self, plan: Plan, key: str) -> str:
        main = plan.main
        assert main is not None
        if key == "external_id":
            return plan.external_id
        if key == "uscc":
            return str(main.fields.get("uscc", ""))
        if key in {"mobile", "email"}:
            # An organisation's row carries its mobiles on its contact person.
            return main.first(key) or (plan.person.first(key) if plan.person else "")
        return f"{main.kind}:{main.name}"

    def _lookup(self, plans: Sequence[Plan], key: str) -> dict[str, Party]:
        """{key value: party} for the batch's key values, in one query."""
        values = {v for v in (self._key_of(p, key) for p in plans) if v}
        if not values:
            return {}
        if key == "external_id":
            keys = ExternalKey.objects.filter(
                source=self.source, external_id__in=values, party__deleted_at__isnull=True
            )
            return {k.external_id: k.party for k in keys.select_related("party")}
        if key == "uscc":
            return {p.uscc: p for p in Party.objects.filter(uscc__in=values)}
        if key in {"mobile", "email"}:
            points = ContactPoint.objects.filter(
                kind=key, value__in=values, party__deleted_at__isnull=True
            )
            return {c.value: c.party for c in points.select_related("party").order_by("-party_id")}
        names = {v.split(":", 1)[1] for v in values}
        return {
            f"{p.kind}:{p.name}": p for p in Party.objects.filter(name__in=names).order_by("-id")
        }

    def _duplicates(self, plans: Sequence[Plan]) -> dict[int, Party]:
        """Rows that share a 统一社会信用代码, a mobile or an email with a party without
        that being the upsert key: {row number: the likely duplicate}."""
        out: dict[int, Party] = {}
        for key in ("uscc", "mobile", "email"):
            if key == self.key:
                continue
            found = self._lookup(plans, key)
            for plan in plans:
                value = self._key_of(plan, key)
                if value in found:
                    out.setdefault(plan.number, found[value])
        return out

    def _visible(self, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        return set(parties_visible_to(self.actor).filter(pk__in=ids).values_list("pk", flat=True))

    def _uscc_taken(self, plans: Sequence[Plan]) -> None:
        """A new organisation whose 统一社会信用代码 another party has is refused (the
        archive keeps one party per code), checked for the batch in one query."""
        codes = {str(p.main.fields["uscc"]) for p in plans if p.main and p.main.fields.get("uscc")}
        taken = (
            set(Party.with_deleted.filter(uscc__in=codes).values_list("uscc", flat=True))
            if codes
            else set()
        )
        in_batch: set[str] = set()
        for plan in plans:
            assert plan.main is not None
            code = str(plan.main.fields.get("uscc", ""))
            if code and (code in taken or code in in_batch):
                self._error(
                    plan, self._cell_column("uscc"), [_("已有客户使用这个统一社会信用代码。")]
                )
            in_batch.add(code)

    def _match_people(self, plans: Sequence[Plan]) -> None:
        """The contact person of an organisation being updated: an employee of the same
        name is that person; otherwise a new one is created and linked."""
        org_ids = [p.main.party.pk for p in plans if p.main and p.main.party]
        links = PartyLink.objects.filter(
            from_party_id__in=org_ids, kind=LinkKind.EMPLOYS
        ).select_related("to_party")
        employees = {(link.from_party_id, link.to_party.name): link.to_party for link in links}
        for plan in plans:
            assert plan.main and plan.main.party and plan.person
            plan.person.party = employees.get(
                (plan.main.party.pk, plan.person.name), plan.person.party
            )

    # What an update changes.

    def _changes(self, plans: Sequence[Plan]) -> None:
        parties = [d.party for p in plans for d in (p.main, p.person) if d and d.party]
        ids = [p.pk for p in parties]
        self.have_contacts = _pairs(
            ContactPoint.objects.filter(party_id__in=ids).values_list("party_id", "kind", "value")
        )
        self.have_tags = _pairs(
            PartyTag.objects.filter(party_id__in=ids).values_list("party_id", "tag__name")
        )
        self.have_roles = _pairs(
            PartyRole.objects.filter(party_id__in=ids).values_list("party_id", "role")
        )
        self.have_addresses = _pairs(
            Address.objects.filter(party_id__in=ids).values_list(
                "party_id", "province", "city", "district", "street"
            )
        )
        self.have_keys = set(
            ExternalKey.objects.filter(source=self.source, party_id__in=ids).values_list(
                "party_id", flat=True
            )
        )
        for plan in plans:
            if not self._plan_changes(plan):
                plan.outcome = Outcome.UNCHANGED

    def _plan_changes(self, plan: Plan) -> bool:
        main = plan.main
        assert main is not None and main.party is not None
        changed = bool(self._field_changes(main)) or self._adds(main)
        changed |= bool(plan.external_id) and main.party.pk not in self.have_keys
        if plan.person:
            person = plan.person.party
            changed |= (
                person is None or bool(self._field_changes(plan.person)) or self._adds(plan.person)
            )
        return changed

    def _field_changes(self, draft: Draft) -> dict[str, Any]:
        """Fields the row gives a value for that differ: an empty cell never blanks one."""
        party = draft.party
        assert party is not None
        return {
            k: v
            for k, v in draft.fields.items()
            if k not in {"kind", "name", "owner"} and v not in ("", None) and getattr(party, k) != v
        }

    def _adds(self, draft: Draft) -> bool:
        party = draft.party
        assert party is not None
        return bool(self._new_parts(draft, party.pk))

    def _new_parts(self, draft: Draft, pk: int | None) -> dict[str, list[Any]]:
        have = (pk and self.have_contacts.get(pk)) or set()
        parts: dict[str, list[Any]] = {
            "contacts": [c for c in draft.contacts if c not in have],
            "tags": [t for t in draft.tags if t not in ((pk and self.have_tags.get(pk)) or set())],
            "roles": [
                r for r in draft.roles if r not in ((pk and self.have_roles.get(pk)) or set())
            ],
        }
        address = draft.address
        if address:
            key = (address["province"], address["city"], address["district"], address["street"])
            if key not in ((pk and self.have_addresses.get(pk)) or set()):
                parts["addresses"] = [address]
        return {k: v for k, v in parts.items() if v}

    # Writing, set-based.

    def _write(self, plans: Sequence[Plan]) -> None:
        writer = _BatchWriter(self.actor, self)
        for plan in plans:
            assert plan.main is not None
            self._write_draft(writer, plan.main)
            if plan.person:
                new_person = plan.person.party is None
                self._write_draft(writer, plan.person)
                if new_person:
                    writer.link(plan.main, plan.person, plan.title)
            if plan.external_id and (
                plan.main.party is None or plan.main.party.pk not in self.have_keys
            ):
                writer.external_key(plan.main, self.source, plan.external_id)
        writer.flush()
        duplicates.candidates_for_pairs(
            (p.main.id, p.duplicate_of)
            for p in plans
            if p.main and p.main.id and p.duplicate_of and p.outcome == Outcome.CREATED
        )

    def _write_draft(self, writer: "_BatchWriter", draft: Draft) -> None:
        party = draft.party
        if party is None:
            writer.create(draft)
        else:
            writer.update(draft, self._field_changes(draft), self._new_parts(draft, party.pk))


def _pairs(rows: Iterable[tuple[Any, ...]]) -> dict[int, set[Any]]:
    """{party id: its values}: one value, or a tuple when the rows carry several."""
    out: dict[int, set[Any]] = defaultdict(set)
    for party_id, *rest in rows:
        out[party_id].add(rest[0] if len(rest) == 1 else tuple(rest))
    return out


# What the archive's services write, as plain rows (see kehu.core.bulk): a new party and
# its parts never become model instances, their ids are reserved before the insert.
NEW_PARTY_COLUMNS = (
    "id",
    "kind",
    "name",
    "name_pinyin",
    "name_initials",
    "uscc",
    "gender",
    "industry",
    "website",
    "source",
    "description",
    "owner_id",
    "province",
    "city",
    "district",
    "created_by_id",
)
_TEXT_COLUMNS = NEW_PARTY_COLUMNS[5:11] + NEW_PARTY_COLUMNS[12:15]
PARTY_TYPE = Party._meta.label_lower
_NEW_STATE = Party._meta.get_field("relationship_state").get_default()
_DIRECT = Party._meta.get_field("is_direct").get_default()
Parts = Sequence[tuple[Draft, dict[str, list[Any]]]]


def _created(after: dict[str, Any]) -> dict[str, list[Any]]:
    """`diff({}, after)`: every field that has a value."""
    return {name: [None, after[name]] for name in sorted(after) if after[name] is not None}


class _BatchWriter:
    """Collects a batch's creates and updates, then writes each table in one statement."""

    def __init__(self, actor: User, target: PartyTarget) -> None:
        self.actor = actor
        self.target = target
        self.now = timezone.now()
        self.tenant_id = current_tenant_id()
        self.new: list[Draft] = []
        self.updates: list[tuple[Draft, dict[str, Any], dict[str, list[Any]]]] = []
        self.links: list[tuple[Draft, Draft, str]] = []
        self.keys: list[tuple[Draft, str, str]] = []
        self.audits: list[Row] = []
        self.rows = BulkWriter(self.tenant_id, self.now)

    def create(self, draft: Draft) -> None:
        self.new.append(draft)

    def update(self, draft: Draft, changes: dict[str, Any], parts: dict[str, list[Any]]) -> None:
        self.updates.append((draft, changes, parts))

    def link(self, organisation: Draft, person: Draft, title: str) -> None:
        self.links.append((organisation, person, title))

    def external_key(self, draft: Draft, source: str, external_id: str) -> None:
        self.keys.append((draft, source, external_id))

    def _audit(
        self,
        action: str,
        object_type: str,
        object_id: int,
        text: str,
        root_id: int | None,
        changes: dict[str, Any],
    ) -> None:
        """One entry as `audit_write` makes it, for an object of a party (the root)."""
        # `changes` stays a dict: the batch's entries go to the database as one JSON
        # document (BulkWriter.insert_plain), not one dump per entry (~6,000 a batch).
        self.audits.append(
            (
                self.actor.pk,
                action,
                object_type,
                object_id,
                text[:200],
                PARTY_TYPE,
                root_id,
                changes,
            )
        )

    def flush(self) -> None:
        self._create_parties()
        self._update_parties()
        parts = [(d, _all_parts(d)) for d in self.new] + [(d, p) for d, _c, p in self.updates]
        self._contacts(parts)
        self._addresses(parts)
        self._tags(parts)
        self._roles(parts)
        self._links()
        self._external_keys()
        self._search_keys(parts)
        self.rows.insert_plain(AuditEntry, AUDIT_COLUMNS, self.audits, nested={"changes"})

    def _create_parties(self) -> None:
        if not self.new:
            return
        ids = self.rows.reserve_ids(Party, len(self.new))
        rows: list[Row] = []
        for draft, pk in zip(self.new, ids, strict=True):
            draft.pk = pk
            fields = draft.fields
            owner = fields.get("owner") or self.actor
            values = {name: fields.get(name, "") for name in _TEXT_COLUMNS}
            name_pinyin, initials = draft.pinyin or checks.pinyin(draft.name)
            rows.append(
                (
                    pk,
                    draft.kind,
                    draft.name,
                    name_pinyin,
                    initials,
                    *(values[name] for name in NEW_PARTY_COLUMNS[5:11]),
                    owner.pk,
                    *(values[name] for name in NEW_PARTY_COLUMNS[12:15]),
                    self.actor.pk,
                )
            )
            after = {
                **values,
                "kind": draft.kind,
                "name": draft.name,
                "is_direct": _DIRECT,
                "owner": owner.pk,
                "relationship_state": _NEW_STATE,
            }
            self._audit(Action.CREATE, PARTY_TYPE, pk, draft.name, pk, _created(after))
        self.rows.insert(Party, NEW_PARTY_COLUMNS, rows)

    def _update_parties(self) -> None:
        changed: list[Party] = []
        names: set[str] = set()
        for draft, changes, _parts in self.updates:
            party = draft.party
            assert party is not None
            if not changes:
                continue
            before = snapshot(party, PARTY_FIELDS)
            for name, value in changes.items():
                setattr(party, name, value)
            party.updated_at = self.now
            self._audit(
                Action.UPDATE,
                PARTY_TYPE,
                party.pk,
                str(party),
                party.pk,
                diff(before, snapshot(party, PARTY_FIELDS)),
            )
            changed.append(party)
            names |= set(changes)
        if changed:
            Party.objects.bulk_update(changed, [*sorted(names), "updated_at"])

    def _parts(
        self,
        model: Any,
        columns: tuple[str, ...],
        rows: list[tuple[Row, str, int | None, dict[str, Any]]],
    ) -> None:
        """Insert (row, text, party id, audited values) for one kind of part, with ids."""
        if not rows:
            return
        ids = self.rows.reserve_ids(model, len(rows))
        object_type = model._meta.label_lower
        for pk, (_row, text, party_id, after) in zip(ids, rows, strict=True):
            self._audit(Action.CREATE, object_type, pk, text, party_id, _created(after))
        self.rows.insert(
            model, ("id", *columns), [(pk, *r[0]) for pk, r in zip(ids, rows, strict=True)]
        )

    def _contacts(self, parts: Parts) -> None:
        rows = []
        for draft, new in parts:
            party_id = draft.id
            had = {kind for kind, _value in self.target.have_contacts.get(party_id or 0, ())}
            for kind, value in new.get("contacts", ()):
                primary = kind not in had
                had.add(kind)
                after = {"kind": kind, "value": value, "label": "", "is_primary": primary}
                text = checks.contact_display(kind, value)
                rows.append(((party_id, kind, value, primary), text, party_id, after))
        self._parts(ContactPoint, ("party_id", "kind", "value", "is_primary"), rows)

    def _addresses(self, parts: Parts) -> None:
        rows = []
        for draft, new in parts:
            party_id = draft.id
            first = not self.target.have_addresses.get(party_id or 0)
            for address in new.get("addresses", ()):
                after = {"kind": "office", **address, "is_primary": first}
                columns = tuple(after[name] for name in ADDRESS_FIELDS)
                text = "".join(
                    after[p] for p in ("province", "city", "district", "street") if after[p]
                )
                rows.append(((party_id, *columns), text, party_id, after))
        self._parts(Address, ("party_id", *ADDRESS_FIELDS), rows)

    def _tags(self, parts: Parts) -> None:
        names = {t for _d, new in parts for t in new.get("tags", ())}
        if not names:
            return
        Tag.objects.bulk_create(
            [Tag(tenant_id=self.tenant_id, name=n) for n in sorted(names)], ignore_conflicts=True
        )
        tags = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        rows = [
            ((d.id, tags[name]), name, d.id, {"tag": tags[name]})
            for d, new in parts
            for name in new.get("tags", ())
        ]
        self._parts(PartyTag, ("party_id", "tag_id"), rows)

    def _roles(self, parts: Parts) -> None:
        rows = [
            ((d.id, role), str(PartyRoleKind(role).label), d.id, {"role": role})
            for d, new in parts
            for role in new.get("roles", ())
        ]
        self._parts(PartyRole, ("party_id", "role"), rows)

    def _links(self) -> None:
        if not self.links:
            return
        ids = self.rows.reserve_ids(PartyLink, len(self.links))
        kind = LinkKind.EMPLOYS
        link_type = PartyLink._meta.label_lower
        rows: list[Row] = []
        for pk, (organisation, person, title) in zip(ids, self.links, strict=True):
            rows.append((pk, organisation.id, person.id, kind.value, title))
            after = {
                "from_party": organisation.id,
                "to_party": person.id,
                "kind": kind.value,
                "title": title,
                "note": "",
            }
            text = f"{organisation.name} {kind.label} {person.name}"
            for root in (organisation.id, person.id):
                self._audit(Action.CREATE, link_type, pk, text, root, _created(after))
        columns = ("id", "from_party_id", "to_party_id", "kind", "title")
        self.rows.insert(PartyLink, columns, rows)

    def _external_keys(self) -> None:
        rows = [(d.id, source, eid) for d, source, eid in self.keys]
        self.rows.insert(ExternalKey, ("party_id", "source", "external_id"), rows)

    def _search_keys(self, parts: Parts) -> None:
        """Keys of new parties (from what the row gave), and fresh keys for updated ones
        that gained a contact (from all their contact points)."""
        stale = [d.id for d, new in parts if d.party is not None and new.get("contacts")]
        contacts: dict[int, set[Any]] = {}
        if stale:
            SearchKey.objects.filter(party_id__in=stale).delete()
            points = ContactPoint.objects.filter(party_id__in=stale)
            contacts = _pairs(points.values_list("party_id", "kind", "value"))
        keys: list[tuple[int | None, set[str]]] = []
        for draft, new in parts:
            if draft.party is None:
                found = draft.keys
                if found is None:
                    found = search.keys_for(draft.name, draft.contacts)
            elif new.get("contacts"):
                found = search.keys_for(draft.party.name, contacts.get(draft.party.pk, ()))
            else:
                continue
            keys.append((draft.id, found))
        # Written in key order: the rows then go into the (tenant, key) index one after
        # another instead of at ~25,000 random places a batch.
        self.rows.insert_groups(SearchKey, ("party_id", "key"), keys)


def _all_parts(draft: Draft) -> dict[str, list[Any]]:
    parts: dict[str, list[Any]] = {
        "contacts": draft.contacts,
        "tags": draft.tags,
        "roles": draft.roles,
    }
    if draft.address:
        parts["addresses"] = [draft.address]
    return parts
