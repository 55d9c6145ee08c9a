"""Who may call which endpoint: every API operation against every persona.

One world (Alice's customers, their parts, an interaction, a task, a team, a token) and
one table of operations on it. Each operation is tried by Alice (it works), by Bob
(sales, sees only his own: 404, or 403 on admin work), by Dora (read-only: reads work,
writes are 403), by Charlie (another firm: 404), and with no, a wrong or a revoked
token (401). Every refusal leaves the data as it was. A last test checks that the table
names every operation the OpenAPI schema lists, so a new endpoint cannot skip this.
"""

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kehu.activities import services as activities
from kehu.activities.models import Interaction, InteractionParty, ServiceTime, Task
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import (
    api_client,
    assert_problem,
)
from kehu.dataio import dedup, duplicates, merge
from kehu.dataio import services as imports
from kehu.dataio.models import (
    DuplicateCandidate,
    DuplicateScan,
    ExternalKey,
    Import,
    ImportRow,
    MappingTemplate,
    PartyMerge,
)
from kehu.insights import balance_services as balance
from kehu.insights import services as insights
from kehu.insights.models import (
    CustomerScore,
    InsightSettings,
    PlannedSpend,
    ScoringRun,
    StageOverride,
    WinBackAction,
)
from kehu.parties import services as parties
from kehu.parties.models import (
    AccountTeamMember,
    Address,
    ContactPoint,
    ImportantDate,
    OwnershipChange,
    Party,
    PartyLink,
    PartyRole,
    PartyTag,
    Preference,
    StateChange,
)
from kehu.pool import services as pool
from kehu.pool.models import PoolSettings
from kehu.sales import lead_services
from kehu.sales import pipeline_services as deals
from kehu.sales import services as sales
from kehu.sales.models import (
    IdempotencyRecord,
    Lead,
    LostReason,
    Opportunity,
    OpportunityLine,
    Order,
    OrderLine,
    Pipeline,
    Product,
    ProductCategory,
    RoundRobin,
    Stage,
    StageMove,
)
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import ApiToken, Invitation, Team, TeamMembership, Tenant, User

World = dict[str, int]
# A body {FILE: [name, content]} is sent as a multipart upload of that file.
FILE = "__file__"


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # with {placeholders} from the world
    body: dict[str, Any] | None
    access: str  # member | read | write | manage | catalogue | admin | own
    ok: int  # Alice's status
    outsider: int = 404  # what another firm gets (a bulk import names the row instead)
    audited: bool = False  # a read that records itself (an export: who took which rows)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


TODAY = datetime.date(2030, 1, 1).isoformat()

OPS = [
    Op("GET", "/parties/{party}", None, "read", 200),
    Op("PATCH", "/parties/{party}", {"industry": "制造"}, "write", 200),
    Op("DELETE", "/parties/{party}", None, "manage", 204),
    Op("POST", "/parties/{deleted}/restore", None, "manage", 200),
    Op("POST", "/parties/{party}/state", {"to_state": "target", "reason": "重点"}, "write", 201),
    Op("GET", "/parties/{party}/state-changes", None, "read", 200),
    Op("GET", "/parties/{party}/timeline", None, "read", 200),
    Op("GET", "/parties/{party}/audit", None, "read", 200),
    Op(
        "POST",
        "/parties/{party}/contact-points",
        {"kind": "email", "value": "a@example.cn"},
        "write",
        201,
    ),
    Op("DELETE", "/parties/{party}/contact-points/{contact}", None, "write", 204),
    Op(
        "POST", "/parties/{party}/addresses", {"kind": "office", "province": "北京市"}, "write", 201
    ),
    Op("DELETE", "/parties/{party}/addresses/{address}", None, "write", 204),
    Op("POST", "/parties/{party}/tags", {"name": "新客"}, "write", 201),
    Op("DELETE", "/parties/{party}/tags/{tag}", None, "write", 204),
    Op(
        "POST",
        "/parties/{party}/preferences",
        {"category": "habit", "content": "早上联系"},
        "write",
        201,
    ),
    Op("DELETE", "/parties/{party}/preferences/{preference}", None, "write", 204),
    Op(
        "POST",
        "/parties/{party}/important-dates",
        {"kind": "founding", "date": "2001-05-01"},
        "write",
        201,
    ),
    Op("DELETE", "/parties/{party}/important-dates/{date}", None, "write", 204),
    Op("POST", "/parties/{party}/links", {"to_party": "{person}", "kind": "refers"}, "write", 201),
    Op("DELETE", "/parties/{party}/links/{link}", None, "write", 204),
    Op(
        "POST",
        "/parties/{party}/account-team",
        {"user": "{alice}", "role": "sales"},
        "write",
        201,
    ),
    Op("DELETE", "/parties/{party}/account-team/{member}", None, "write", 204),
    Op("PUT", "/parties/{party}/roles", {"roles": ["partner"]}, "write", 200),
    Op("GET", "/interactions?party={party}", None, "read", 200),
    # Customer value (kehu/insights): a party's scores, a manager's stage override, and
    # win-back tasks for the parties named; a run is the firm's, every member's to poll.
    Op("GET", "/parties/{party}/scores", None, "read", 200),
    Op(
        "POST",
        "/parties/{party}/lifecycle-stage",
        {"stage": "stability", "reason": "框架合同"},
        "manage",
        201,
    ),
    Op("POST", "/insights/win-back/tasks", {"parties": ["{party}"]}, "write", 201),
    Op("GET", "/insights/runs/{run}", None, "member", 200),
    # Movement between two runs: another firm's run ids are a 422 on the field, not data.
    Op("GET", "/insights/firm/migration?from_run={run0}&to_run={run}", None, "member", 200, 422),
    Op(
        "GET",
        "/insights/firm/migration/customers?from_run={run0}&to_run={run}&source=new&target=C",
        None,
        "member",
        200,
        422,
    ),
    Op("GET", "/insights/firm/lifecycle-flows?to_run={run}", None, "member", 200, 422),
    Op(
        "GET",
        "/insights/firm/lifecycle-flows/customers?to_run={run}&source=new&target=stability",
        None,
        "member",
        200,
        422,
    ),
    # The balance sheet is every member's over what they may report on; planned spend is
    # the firm's: read by those who see every customer, written by managers.
    Op("GET", "/insights/firm/balance-sheet?run={run}", None, "member", 200),
    Op("GET", "/insights/firm/planned-spend/{spend}", None, "read", 200),
    Op("PATCH", "/insights/firm/planned-spend/{spend}", {"amount": "900"}, "manage", 200),
    Op("DELETE", "/insights/firm/planned-spend/{spend}", None, "manage", 204),
    # Duplicates (kehu/dataio): managers only, so Bob and Dora get a 403 before any lookup.
    Op("POST", "/duplicates/{candidate}/dismiss", None, "admin", 200),
    Op("POST", "/duplicates/{candidate}/merge", {"survivor": "a", "choices": {}}, "admin", 201),
    Op("POST", "/merges/{merge}/undo", None, "admin", 200),
    Op("GET", "/duplicates/scans/{scan}", None, "admin", 200),
    Op(
        "POST",
        "/interactions",
        {"party_ids": ["{party}"], "kind": "call", "subject": "回访"},
        "write",
        201,
    ),
    Op("DELETE", "/invitations/{invitation}", None, "admin", 204),
    Op("GET", "/interactions/{interaction}", None, "read", 200),
    Op("PATCH", "/interactions/{interaction}", {"subject": "再次拜访"}, "write", 200),
    Op("DELETE", "/interactions/{interaction}", None, "write", 204),
    Op("GET", "/tasks?party={party}", None, "read", 200),
    Op("POST", "/tasks", {"title": "报价", "due_date": TODAY, "party": "{party}"}, "write", 201),
    Op("GET", "/tasks/{task}", None, "read", 200),
    Op("PATCH", "/tasks/{task}", {"title": "再报价"}, "write", 200),
    Op("POST", "/tasks/{task}/status", {"status": "done"}, "write", 200),
    Op("GET", "/service-times?party={party}", None, "read", 200),
    Op("POST", "/service-times", {"party": "{party}", "minutes": 30}, "write", 201),
    Op("GET", "/service-times/{service_time}", None, "read", 200),
    Op("PATCH", "/service-times/{service_time}", {"minutes": 45}, "write", 200),
    Op("DELETE", "/service-times/{service_time}", None, "write", 204),
    Op("GET", "/parties/{party}/effort", None, "read", 200),
    Op("GET", "/data-quality/owners/{alice}", None, "read", 200),
    Op("POST", "/parties/{pooled}/claim", None, "pool", 200),
    Op("POST", "/parties/{pooled}/assign", {"owner": "{alice}"}, "pool_manage", 200),
    Op("POST", "/parties/{party}/release", {"reason": "久未跟进"}, "manage", 200),
    Op("GET", "/parties/{party}/ownership-changes", None, "read", 200),
    Op("GET", "/users/{alice}", None, "member", 200),
    Op("GET", "/users/{bob}/holdings", None, "staff_manage", 200),
    Op(
        "POST",
        "/users/{bob}/handover",
        {"receivers": ["{alice}"], "note": "调岗"},
        "staff_manage",
        200,
    ),
    Op("PATCH", "/users/{bob}", {"display_name": "小鲍"}, "admin", 200),
    Op("PATCH", "/teams/{team}", {"name": "华北"}, "admin", 200),
    Op("DELETE", "/teams/{team}", None, "admin", 204),
    Op("POST", "/teams/{team}/members", {"user": "{bob}"}, "admin", 201),
    Op("DELETE", "/teams/{team}/members/{alice}", None, "admin", 204),
    Op("DELETE", "/tokens/{token}", None, "own", 204),
    # An import is its uploader's (and managers'): others see no such import.
    Op("GET", "/imports/{import}", None, "own", 200),
    Op("PUT", "/imports/{import}/mapping", {"mapping": {"0": "name"}}, "own", 200),
    Op("POST", "/imports/{import}/dry-run", None, "own", 200),
    Op("POST", "/imports/{import}/run", None, "own", 202),
    Op("POST", "/imports/{import}/resume", None, "own", 422),  # not interrupted
    Op("GET", "/imports/{import}/rows", None, "own", 200),
    Op("GET", "/imports/{import}/errors", None, "own", 200),
    Op("GET", "/products/{product}", None, "member", 200),
    Op("PATCH", "/products/{product}", {"unit_price": "88"}, "catalogue", 200),
    Op("DELETE", "/products/{product}", None, "catalogue", 204),
    Op("GET", "/orders?party={party}", None, "read", 200),
    Op(
        "POST",
        "/orders",
        {"party": "{party}", "lines": [{"product": "{product}", "quantity": 1}]},
        "write",
        201,
    ),
    Op("GET", "/orders/{order}", None, "read", 200),
    Op("PATCH", "/orders/{order}", {"note": "加急"}, "write", 200),
    Op("POST", "/orders/{draft}/confirm", None, "write", 200),
    Op("POST", "/orders/{order}/fulfil", None, "write", 200),
    Op("POST", "/orders/{order}/cancel", None, "write", 200),
    Op(
        "POST",
        "/orders/{order}/returns",
        {"lines": [{"product": "{product}", "quantity": 1}]},
        "write",
        201,
    ),
    Op(
        "POST",
        "/orders/bulk",
        {
            "orders": [
                {
                    "party_id": "{party}",
                    "order_date": TODAY,
                    "lines": [{"product_code": "CH-1", "quantity": 1}],
                }
            ]
        },
        "rows",
        200,
        outsider=422,
    ),
    Op("PATCH", "/pipelines/{pipeline}", {"name": "大客户"}, "catalogue", 200),
    Op(
        "POST",
        "/pipelines/{pipeline}/stages",
        {"name": "试用", "probability": 50},
        "catalogue",
        201,
    ),
    Op("PATCH", "/stages/{stage}", {"probability": 20}, "catalogue", 200),
    Op("POST", "/opportunities", {"party": "{party}", "name": "新商机"}, "write", 201),
    Op("GET", "/opportunities/{opportunity}", None, "read", 200),
    Op("PATCH", "/opportunities/{opportunity}", {"next_step": "报价"}, "write", 200),
    Op("POST", "/opportunities/{opportunity}/move", {"stage": "{stage2}"}, "write", 200),
    Op("POST", "/opportunities/{opportunity}/win", {}, "write", 200),
    Op("POST", "/opportunities/{opportunity}/lose", {"lost_reason": "{reason}"}, "write", 200),
    Op("GET", "/leads/{lead}", None, "read", 200),
    Op("PATCH", "/leads/{lead}", {"note": "想要报价"}, "write", 200),
    Op("POST", "/leads/{lead}/assign", {"owner": "{bob}"}, "write", 200),
    Op("POST", "/leads/{lead}/qualify", None, "write", 200),
    Op("POST", "/leads/{lead}/disqualify", {"reason": "空号"}, "write", 200),
    Op("GET", "/leads/{lead}/duplicates", None, "read", 200),
    Op("POST", "/leads/{lead}/convert", {"create_anyway": True}, "write", 201),
]

# Operations that name no record of Alice's: every caller acts in their own firm.
UNNAMED = [
    Op("GET", "/parties", None, "member", 200),
    Op("POST", "/parties", {"kind": "person", "name": "李四"}, "write", 201),
    Op("GET", "/interactions", None, "member", 200),
    Op("GET", "/tasks", None, "member", 200),
    Op("GET", "/tasks/today", None, "member", 200),
    Op("GET", "/service-times", None, "member", 200),
    Op("GET", "/pool/settings", None, "member", 200),
    # Reports: everyone reads them, over what they may see (kehu/reports/__init__.py).
    Op("GET", "/reports/revenue?by=rep", None, "member", 200),
    Op("GET", "/reports/customer-effort", None, "member", 200),
    Op("GET", "/reports/new-vs-existing", None, "member", 200),
    Op("GET", "/reports/pipeline-by-stage", None, "member", 200),
    Op("GET", "/reports/win-rate?by=team", None, "member", 200),
    Op("GET", "/reports/lost-reasons", None, "member", 200),
    Op("GET", "/reports/sales-cycle?by=rep", None, "member", 200),
    Op("GET", "/reports/sales-cycle-distribution", None, "member", 200),
    Op("GET", "/reports/time-in-stage", None, "member", 200),
    Op("GET", "/insights/settings", None, "member", 200),
    Op("GET", "/insights/runs", None, "member", 200),
    Op("GET", "/insights/scores?tier=S", None, "member", 200),
    Op("GET", "/insights/pyramid", None, "member", 200),
    Op("GET", "/insights/win-back", None, "member", 200),
    Op("POST", "/insights/runs", None, "manage", 201),
    Op(
        "PUT",
        "/insights/settings",
        {
            **{"horizon_months": 24, "annual_discount_rate": "8", "default_margin": "25"},
            **{"weight_longevity": 30, "weight_scale": 50, "weight_efficiency": 20},
            **{"share_s": 5, "share_a": 15, "share_b": 30, "churn_alive_threshold": 40},
            **{"churn_trend_threshold": 50, "winback_due_days": 5, "nightly": True},
        },
        "manage",
        200,
    ),
    Op("GET", "/duplicates", None, "manage", 200),
    Op("POST", "/duplicates/scan", None, "manage", 202),
    Op("POST", "/duplicates/check", {"kind": "organisation", "name": "甲公司"}, "write", 200),
    Op("GET", "/insights/firm/pareto", None, "member", 200),
    Op("GET", "/insights/firm/pareto?measure=clp", None, "member", 200),
    Op("GET", "/data-quality", None, "member", 200),
    Op("GET", "/data-quality?days=30", None, "member", 200),
    Op("GET", "/insights/firm/balance-sheet", None, "member", 200),
    Op("GET", "/insights/firm/planned-spend", None, "member", 200),
    Op(
        "POST",
        "/insights/firm/planned-spend",
        {"kind": "win_back", "period_start": TODAY, "period_end": TODAY, "amount": "300"},
        "manage",
        201,
    ),
    Op("PATCH", "/pool/settings", {"idle_days": 45}, "admin", 200),
    Op("POST", "/pool/sweep", None, "admin", 200),
    Op("GET", "/me", None, "member", 200),
    Op("GET", "/users", None, "member", 200),
    Op("POST", "/invitations", {"email": "new@example.cn"}, "admin", 201),
    Op("GET", "/teams", None, "member", 200),
    Op("POST", "/teams", {"name": "新团队"}, "admin", 201),
    Op("GET", "/tokens", None, "member", 200),
    Op("POST", "/tokens", {"name": "脚本"}, "member", 201),
    Op("GET", "/imports", None, "member", 200),
    Op("POST", "/imports", {FILE: ["客户.csv", "客户名称\n甲公司\n"]}, "write", 201),
    Op("GET", "/products", None, "member", 200),
    Op("POST", "/products", {"code": "NEW-1", "name": "新品", "unit_price": "10"}, "manage", 201),
    Op("GET", "/product-categories", None, "member", 200),
    Op("POST", "/product-categories", {"name": "新分类"}, "manage", 201),
    Op("GET", "/orders", None, "member", 200),
    Op("GET", "/orders/export", None, "member", 200),
    # Exports: every role but read-only, over what the caller may see.
    Op("GET", "/exports/parties?format=xlsx", None, "write", 200, audited=True),
    Op("GET", "/pipelines", None, "member", 200),
    Op(
        "POST",
        "/pipelines",
        {
            "name": "续约",
            "stages": [
                {"name": "续约洽谈", "probability": 50},
                {"name": "续约成功", "probability": 100, "kind": "won"},
                {"name": "未续约", "probability": 0, "kind": "lost"},
            ],
        },
        "manage",
        201,
    ),
    Op("GET", "/lost-reasons", None, "member", 200),
    Op("POST", "/lost-reasons", {"name": "预算取消"}, "manage", 201),
    Op("GET", "/opportunities", None, "member", 200),
    Op("GET", "/forecast", None, "member", 200),
    Op("GET", "/leads", None, "member", 200),
    Op("POST", "/leads", {"name": "李雷", "mobile": "13800001111"}, "write", 201),
]

# What Bob (sales, own records only) and Dora (read-only, sees all) get on Alice's world;
# "ok" is the operation's own success status.
# A bulk import ("rows") names each party it cannot use in its row's error (422).
# A party in the customer pool is every member's to see and claim ("pool"); only a
# manager assigns it ("pool_manage"). Colleagues are every member's to see, but only a
# manager sees what they hold or hands it over ("staff_manage").
REFUSALS: dict[str, dict[str, int | str]] = {
    "bob": {
        **{"member": "ok", "read": 404, "write": 404, "manage": 404, "catalogue": 403},
        **{"admin": 403, "own": 404, "rows": 422},
        **{"pool": "ok", "pool_manage": 403, "staff_manage": 403},
    },
    "dora": {
        **{"member": "ok", "read": "ok", "write": 403, "manage": 403, "catalogue": 403},
        **{"admin": 403, "own": 404, "rows": 403},
        **{"pool": 403, "pool_manage": 403, "staff_manage": 403},
    },
}
# On operations that name no record, Bob writes his own records; Dora may not write.
REFUSALS_UNNAMED: dict[str, dict[str, int | str]] = {
    "bob": {"member": "ok", "write": "ok", "manage": 403, "admin": 403},
    "dora": {"member": "ok", "write": 403, "manage": 403, "admin": 403},
}
# POSTs that only read: their body is the question.
POSTED_READS = {"/duplicates/check"}
# What an outsider's lists hold: their own firm's rows only.
OUTSIDER_LISTS = {
    "/parties": [],
    "/interactions": [],
    "/tasks": [],
    "/tasks/today": [],
    "/service-times": [],
    "/teams": [],
    "/users": ["charlie"],
    "/tokens": ["tests"],
    "/imports": [],
    "/products": [],
    "/orders": [],
    "/orders/export": [],
    "/opportunities": [],
    "/leads": [],
    "/insights/scores": [],
    "/insights/win-back": [],
    "/insights/firm/planned-spend": [],
    "/duplicates": [],
}


@pytest.fixture
def world(acme: Tenant, alice: User, bob: User, dora: User) -> World:
    with tenant_scope(acme.pk):
        party = parties.party_create(actor=alice, kind="organisation", name="甲公司")
        person = parties.party_create(actor=alice, kind="person", name="张三")
        deleted = parties.party_create(actor=alice, kind="person", name="王五")
        parties.party_delete(actor=alice, party=deleted)
        contact = parties.contact_point_add(
            actor=alice, party=party, kind="mobile", value="13812345678"
        )
        address = parties.address_add(actor=alice, party=party, kind="office", province="广东省")
        tag = parties.tag_add(actor=alice, party=party, name="VIP")
        preference = parties.preference_add(
            actor=alice, party=party, category="product", content="喜欢绿茶"
        )
        date = parties.important_date_add(
            actor=alice, party=party, kind="anniversary", date=datetime.date(2020, 3, 1)
        )
        link = parties.party_link_add(
            actor=alice, from_party=party, to_party=person, kind="employs", title="采购"
        )
        member = parties.account_team_add(actor=alice, party=party, user=dora, role="service")
        interaction = activities.interaction_log(
            actor=alice, parties=[party], kind="visit", subject="拜访"
        )
        task = activities.task_create(
            actor=alice, title="跟进", due_date=datetime.date(2030, 1, 1), party=party
        )
        service_time = activities.service_time_log(actor=alice, party=party, minutes=90)
        pool.pool_settings_update(actor=alice, enabled=True)
        pooled = parties.party_create(actor=alice, kind="organisation", name="公海公司")
        pool.pool_release(actor=alice, party=pooled, reason="久未跟进")
        activities.task_create(
            actor=alice, title="鲍的事", due_date=datetime.date(2030, 1, 1), assignee=bob
        )
        invitation, _link = tenancy.invitation_create(actor=alice, email="pending@example.cn")
        team = tenancy.team_create(actor=alice, name="华南")
        tenancy.team_member_add(actor=alice, team=team, user=alice)
        token, _raw = tenancy.api_token_create(actor=alice, name="alice 的脚本")
        job = imports.import_upload(
            actor=alice, file=SimpleUploadedFile("客户.csv", "客户名称\n乙公司\n".encode())
        )
        imports.import_dry_run(actor=alice, job=job)
        chair = sales.product_create(
            actor=alice, code="CH-1", name="办公椅", unit_price=Decimal("100")
        )
        # The person's, so that the organisation stays "potential" for the state operation.
        sold = [sales.LineIn(chair, Decimal(2))]
        order = sales.order_create(actor=alice, party=person, lines=sold, status="confirmed")
        draft = sales.order_create(actor=alice, party=person, lines=sold)
        pipeline = deals.pipeline_create(
            actor=alice,
            name="新客户销售",
            stages=[
                deals.StageIn("接洽", 10),
                deals.StageIn("提案", 60),
                deals.StageIn("赢单", 100, "won"),
                deals.StageIn("输单", 0, "lost"),
            ],
        )
        first, second = Stage.objects.filter(pipeline=pipeline).order_by("position")[:2]
        deal = deals.opportunity_create(actor=alice, party=party, name="办公椅")
        reason = deals.lost_reason_create(actor=alice, name="价格")
        run = insights.scoring_run_now(actor=alice)
        # An earlier finished run (of no customers) to compare the run with.
        run0 = ScoringRun.objects.create(
            as_of=run.as_of - datetime.timedelta(days=91), status="done"
        )
        spend = balance.planned_spend_create(
            actor=alice,
            kind="acquisition",
            period_start=datetime.date(2030, 1, 1),
            period_end=datetime.date(2030, 1, 31),
            amount=Decimal(1000),
        )
        lead = lead_services.lead_create(
            actor=alice, name="韩梅梅", company="甲公司", mobile="13900002222", owner=alice
        )
        twin = parties.party_create(actor=alice, kind="organisation", name="甲公司（北京）")
        candidate = _candidate(party, twin)
        one = parties.party_create(actor=alice, kind="organisation", name="丙贸易有限公司")
        other = parties.party_create(actor=alice, kind="organisation", name="丙贸易")
        merged = merge.party_merge(
            actor=alice,
            survivor=one,
            loser=other,
            choices=merge.merge_choices_default(one, other),
            candidate=_candidate(one, other),
        )
        scan = duplicates.scan_run(scan_id=duplicates.scan_start(actor=alice).pk)
    return {
        "candidate": candidate.pk,
        "merge": merged.pk,
        "scan": scan.pk,
        "pipeline": pipeline.pk,
        "stage": first.pk,
        "stage2": second.pk,
        "opportunity": deal.pk,
        "reason": reason.pk,
        "lead": lead.pk,
        "run": run.pk,
        "run0": run0.pk,
        "spend": spend.pk,
        "import": job.pk,
        "party": party.pk,
        "pooled": pooled.pk,
        "person": person.pk,
        "deleted": deleted.pk,
        "contact": contact.pk,
        "address": address.pk,
        "tag": tag.tag_id,
        "preference": preference.pk,
        "date": date.pk,
        "link": link.pk,
        "member": member.pk,
        "interaction": interaction.pk,
        "invitation": invitation.pk,
        "task": task.pk,
        "service_time": service_time.pk,
        "team": team.pk,
        "token": token.pk,
        "product": chair.pk,
        "order": order.pk,
        "draft": draft.pk,
        "alice": alice.pk,
        "bob": bob.pk,
    }


def _candidate(a: Party, b: Party) -> DuplicateCandidate:
    """The pair as the scan would record it."""
    match = dedup.score_pair(*duplicates._profiles(Party.objects.filter(pk__in=[a.pk, b.pk])))
    duplicates.candidates_record([match])
    return DuplicateCandidate.objects.get(party_a=min(a.pk, b.pk), party_b=max(a.pk, b.pk))


def _fill(value: Any, ids: World) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def call(client: Client, op: Op, ids: World) -> Any:
    path = "/api/v1" + op.path.format(**ids)
    body = _fill(op.body, ids)
    if isinstance(body, dict) and FILE in body:
        name, content = body[FILE]
        return client.post(path, {"file": SimpleUploadedFile(name, content.encode())})
    if body is None:
        return client.generic(op.method, path)
    return client.generic(op.method, path, json.dumps(body), content_type="application/json")


def snapshot(tenant: Tenant) -> dict[str, Any]:
    """Everything a refused call could have changed in the firm."""
    with tenant_scope(tenant.pk):
        models = [
            AccountTeamMember,
            ExternalKey,
            Import,
            ImportRow,
            MappingTemplate,
            Address,
            ApiToken,
            AuditEntry,
            ContactPoint,
            ImportantDate,
            Interaction,
            InteractionParty,
            Invitation,
            Order,
            OrderLine,
            ProductCategory,
            IdempotencyRecord,
            OwnershipChange,
            Lead,
            LostReason,
            Opportunity,
            OpportunityLine,
            Pipeline,
            RoundRobin,
            Stage,
            StageMove,
            PartyLink,
            PartyRole,
            PartyTag,
            Preference,
            ServiceTime,
            StateChange,
            Task,
            Team,
            TeamMembership,
            ScoringRun,
            CustomerScore,
            StageOverride,
            WinBackAction,
            PlannedSpend,
            DuplicateCandidate,
            DuplicateScan,
            PartyMerge,
        ]
        counts = {m.__name__: m.objects.count() for m in models}
        return {
            **counts,
            "parties": list(
                Party.with_deleted.order_by("pk").values_list(
                    "pk", "name", "industry", "relationship_state", "deleted_at", "owner_id"
                )
            ),
            "pool": list(PoolSettings.objects.values_list("idle_days", "last_swept_at")),
            "insights": list(InsightSettings.objects.values_list("horizon_months", "share_s")),
            "spend": list(PlannedSpend.objects.order_by("pk").values_list("pk", "amount")),
            "scores": list(
                CustomerScore.objects.order_by("pk").values_list("pk", "lifecycle_stage")
            ),
            "users": list(
                User.objects.order_by("pk").values_list("pk", "display_name", "role", "is_active")
            ),
            "interactions": list(
                Interaction.objects.order_by("pk").values_list("pk", "subject", "occurred_at")
            ),
            "tasks": list(Task.objects.order_by("pk").values_list("pk", "title", "status")),
            "teams": list(Team.objects.order_by("pk").values_list("pk", "name")),
            "tokens": list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
            "imports": list(
                Import.objects.order_by("pk").values_list(
                    "pk", "status", "mapping", "options", "started_at"
                )
            ),
            "products": list(
                Product.objects.order_by("pk").values_list("pk", "unit_price", "is_active")
            ),
            "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "note")),
            "pipelines": list(Pipeline.objects.order_by("pk").values_list("pk", "name")),
            "stages": list(Stage.objects.order_by("pk").values_list("pk", "probability")),
            "opportunities": list(
                Opportunity.objects.order_by("pk").values_list("pk", "stage_id", "next_step")
            ),
            "leads": list(
                Lead.objects.order_by("pk").values_list("pk", "status", "note", "owner_id")
            ),
            "duplicates": list(
                DuplicateCandidate.objects.order_by("pk").values_list("pk", "status")
            ),
            "merges": list(PartyMerge.objects.order_by("pk").values_list("pk", "undone_at")),
        }


@pytest.mark.parametrize("op", OPS + UNNAMED, ids=lambda op: op.id)
def test_alice_may(op: Op, world: World, alice: User, acme: Tenant) -> None:
    client = api_client(alice)
    before = snapshot(acme)
    response = call(client, op, world)
    assert response.status_code == op.ok, response.content.decode()
    changed = snapshot(acme) != before
    # A write whose own answer is a refusal (resuming what did not stop) changes nothing,
    # nor does a question sent as a POST (is this new party a duplicate?).
    writes = (op.method != "GET" or op.audited) and op.path not in POSTED_READS
    assert changed == (writes and op.ok < 400)


def _refuse(op: Op, expected: int | str, user: User, world: World, acme: Tenant) -> None:
    client = api_client(user)
    before = snapshot(acme)
    response = call(client, op, world)
    if expected == "ok":
        assert response.status_code == op.ok, response.content.decode()
    else:
        assert_problem(response, int(expected))
        assert snapshot(acme) == before


@pytest.mark.parametrize("persona", ["bob", "dora"])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.id)
def test_colleagues_without_rights_are_refused(
    op: Op, persona: str, world: World, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    _refuse(op, REFUSALS[persona][op.access], user, world, acme)


@pytest.mark.parametrize("persona", ["bob", "dora"])
@pytest.mark.parametrize("op", UNNAMED, ids=lambda op: op.id)
def test_colleagues_rights_on_operations_that_name_no_record(
    op: Op, persona: str, world: World, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    _refuse(op, REFUSALS_UNNAMED[persona][op.access], user, world, acme)


def test_a_salesperson_may_not_delete_even_their_own_party(bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        own = parties.party_create(actor=bob, kind="person", name="鲍的客户")
    client = api_client(bob)
    assert_problem(client.delete(f"/api/v1/parties/{own.pk}"), 403)
    assert client.get(f"/api/v1/parties/{own.pk}").status_code == 200


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.id)
def test_an_outsider_gets_404_and_changes_nothing(
    op: Op, world: World, acme: Tenant, charlie: User
) -> None:
    client = api_client(charlie)
    before = snapshot(acme)
    assert_problem(call(client, op, world), op.outsider)
    assert snapshot(acme) == before


@pytest.mark.parametrize("op", UNNAMED, ids=lambda op: op.id)
def test_an_outsider_acts_only_in_their_own_firm(
    op: Op, world: World, acme: Tenant, charlie: User
) -> None:
    client = api_client(charlie)
    before = snapshot(acme)
    response = call(client, op, world)
    assert response.status_code == op.ok, response.content.decode()
    assert snapshot(acme) == before
    if op.method == "GET" and op.path in OUTSIDER_LISTS:
        items = response.json()["items"]
        assert [i.get("username", i.get("name")) for i in items] == OUTSIDER_LISTS[op.path]


@pytest.mark.parametrize("op", OPS + UNNAMED, ids=lambda op: op.id)
@pytest.mark.parametrize("auth", ["none", "wrong", "revoked"])
def test_without_a_valid_token_every_operation_is_401(
    op: Op, auth: str, world: World, acme: Tenant, alice: User
) -> None:
    headers: dict[str, str] = {}
    if auth == "wrong":
        headers["Authorization"] = "Bearer kehu_0000000000000000000000000000000000000000000"
    elif auth == "revoked":
        with tenant_scope(acme.pk):
            token, raw = tenancy.api_token_create(actor=alice, name="旧")
            tenancy.api_token_revoke(actor=alice, token=token)
        headers["Authorization"] = f"Bearer {raw}"
    before = snapshot(acme)
    assert_problem(call(Client(headers=headers), op, world), 401)
    assert snapshot(acme) == before


def test_every_operation_in_the_schema_is_in_this_table(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    listed = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    tested = {(op.method, _template(op.path)) for op in OPS + UNNAMED}
    assert listed == tested


def _template(path: str) -> str:
    """/parties/{party}/tags/{tag}?x=1 → /parties/{party_id}/tags/{tag_id} (the schema's)."""
    names = {
        "party": "party_id",
        "pooled": "party_id",
        "deleted": "party_id",
        "contact": "contact_id",
        "address": "address_id",
        "tag": "tag_id",
        "preference": "preference_id",
        "date": "date_id",
        "link": "link_id",
        "member": "member_id",
        "interaction": "interaction_id",
        "invitation": "invitation_id",
        "task": "task_id",
        "service_time": "entry_id",
        "team": "team_id",
        "token": "token_id",
        "import": "import_id",
        "product": "product_id",
        "order": "order_id",
        "draft": "order_id",
        "pipeline": "pipeline_id",
        "stage": "stage_id",
        "opportunity": "opportunity_id",
        "lead": "lead_id",
        "run": "run_id",
        "spend": "entry_id",
        "candidate": "candidate_id",
        "merge": "merge_id",
        "scan": "scan_id",
        "alice": "user_id",
        "bob": "user_id",
    }
    path = path.split("?")[0]
    # A list named in the path (not a record of the world).
    path = path.replace("/exports/parties", "/exports/{list_name}")
    for short, full in names.items():
        path = path.replace("{" + short + "}", "{" + full + "}")
    return path
