"""Writes of leads: capture (by hand, the API, the public web form), assignment by the
firm's rules, qualify, disqualify, and conversion into a party, a contact person and an
opportunity. Each runs in one transaction and is audited.

Assignment: the first active rule (by position) whose region and product match sends
the lead to a person, or to the next member of a team in turn (round robin); no match
sends it round robin within the firm's default team. The turn is a row locked with
select_for_update, so that two leads arriving together go to two people.
"""

import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties import normalize
from kehu.parties import services as parties
from kehu.parties.models import (
    ContactKind,
    ContactPoint,
    LinkKind,
    Party,
    PartyKind,
    PartyLink,
    PartyRoleKind,
)
from kehu.sales import pipeline_services as deals
from kehu.sales import services
from kehu.sales.models import (
    AssignmentRule,
    Lead,
    LeadStatus,
    LeadVia,
    Opportunity,
    PipelineSettings,
    Product,
    RoundRobin,
    WebForm,
)
from kehu.tenancy.models import WRITE_ROLES, Team, TeamMembership, User

Action = AuditEntry.Action
LEAD_FIELDS = (
    "name",
    "company",
    "uscc",
    "title",
    "mobile",
    "email",
    "wechat",
    "region",
    "source_channel",
    "campaign",
    "product_interest",
    "note",
    "status",
    "disqualify_reason",
    "owner",
    "team",
)
# Links checked by the services themselves (same tenant), not by full_clean.
LEAD_LINKS = ["tenant", "owner", "team", "product_interest", "web_form", "created_by"]
LEAD_LINKS += ["converted_party", "converted_contact", "converted_opportunity"]
EDITABLE = frozenset(LEAD_FIELDS) - {"status", "disqualify_reason", "owner", "team"}
CONTACT_KINDS = (
    ("mobile", ContactKind.MOBILE),
    ("email", ContactKind.EMAIL),
    ("wechat", ContactKind.WECHAT),
)
# The moves a lead may make; converting is its own function.
STATUS_MOVES: dict[str, frozenset[str]] = {
    LeadStatus.NEW: frozenset({LeadStatus.WORKING, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}),
    LeadStatus.WORKING: frozenset({LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.WORKING, LeadStatus.DISQUALIFIED}),
    LeadStatus.DISQUALIFIED: frozenset({LeadStatus.WORKING}),
    LeadStatus.CONVERTED: frozenset(),
}


# --- capture ---------------------------------------------------------------------------


def _normalise(lead: Lead) -> None:
    """Clean the lead's fields the way the customer archive cleans contact points, so
    that the duplicate check compares like with like; errors name the field."""
    for name in ("name", "company", "title", "region", "campaign"):
        setattr(lead, name, normalize.text(getattr(lead, name)))
    errors: dict[str, list[str]] = {}
    for name, kind in CONTACT_KINDS:
        value = getattr(lead, name)
        if not value:
            continue
        point = ContactPoint(kind=kind, value=value)
        try:
            point.clean()
        except ValidationError as exc:
            errors[name] = exc.message_dict["value"]
        else:
            setattr(lead, name, point.value)
    if lead.uscc:
        try:
            lead.uscc = normalize.uscc(lead.uscc)
        except ValidationError as exc:
            errors["uscc"] = exc.messages
    if not lead.name:
        errors["name"] = [_("姓名不能为空。")]
    if not (lead.mobile or lead.email or lead.wechat) and "mobile" not in errors:
        errors["mobile"] = [_("请至少填写手机、邮箱或微信中的一项。")]
    if errors:
        raise ValidationError(errors)
    lead.full_clean(exclude=LEAD_LINKS)


def _audit(actor: User | None, lead: Lead, action: str, changes: dict[str, Any]) -> None:
    audit_write(actor_id=actor.pk if actor else None, action=action, obj=lead, changes=changes)


@transaction.atomic
def lead_create(
    *,
    actor: User | None,
    name: str,
    via: str = LeadVia.MANUAL,
    owner: User | None = None,
    web_form: WebForm | None = None,
    **fields: Any,
) -> Lead:
    """A new lead. Unless an owner is given it is assigned by the firm's rules. A lead
    from the web form has no actor (nobody signed in sent it)."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValidationError(_("未知字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    lead = Lead(
        tenant_id=current_tenant_id(),
        name=name,
        created_via=via,
        web_form=web_form,
        created_by=actor,
        **fields,
    )
    _normalise(lead)
    product = lead.product_interest
    if product is not None and product.tenant_id != lead.tenant_id:
        raise ValidationError({"product_interest": _("没有找到这个产品。")})
    if owner is not None:
        _check_staff(owner, "owner")
        lead.owner = owner
    else:
        lead.owner, lead.team = assignee_for(lead)
    lead.save()
    _audit(actor, lead, Action.CREATE, diff({}, snapshot(lead, LEAD_FIELDS)))
    return lead


def _check_staff(user: User, field: str) -> None:
    """A lead's owner works it: active staff of the firm whose role may write."""
    if user.tenant_id != current_tenant_id() or not user.can_write:
        raise ValidationError({field: _("负责人必须是本公司可以编辑的在职员工。")})


@transaction.atomic
def lead_update(*, actor: User, lead: Lead, **changes: Any) -> Lead:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError(_("已转化的线索不能修改。"))
    before = snapshot(lead, LEAD_FIELDS)
    for name, value in changes.items():
        setattr(lead, name, value)
    _normalise(lead)
    lead.save()
    changed = diff(before, snapshot(lead, LEAD_FIELDS))
    if changed:
        _audit(actor, lead, Action.UPDATE, changed)
    return lead


# --- assignment ------------------------------------------------------------------------


def _rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    region = not rule.region or rule.region in lead.region
    product = rule.product_id is None or rule.product_id == lead.product_interest_id
    return region and product


def assignee_for(lead: Lead) -> tuple[User | None, Team | None]:
    """(owner, team) by the firm's rules; (None, None) when nobody matches."""
    rules = AssignmentRule.objects.filter(is_active=True).select_related("user", "team")
    for rule in rules.order_by("position", "id"):
        if not _rule_matches(rule, lead):
            continue
        if rule.user is not None and rule.user.is_active:
            return rule.user, None
        if rule.team is not None and (member := round_robin_next(rule.team)) is not None:
            return member, rule.team
    settings = PipelineSettings.objects.select_related("default_team").first()
    if settings is not None and settings.default_team is not None:
        member = round_robin_next(settings.default_team)
        if member is not None:
            return member, settings.default_team
    return None, None


def round_robin_next(team: Team) -> User | None:
    """The team's next active member who may take leads, in turn (by id), or None."""
    with transaction.atomic():
        RoundRobin.objects.get_or_create(team=team, defaults={"tenant_id": team.tenant_id})
        turn = RoundRobin.objects.select_for_update().get(team=team)
        members = list(
            User.objects.filter(
                pk__in=TeamMembership.objects.filter(team=team).values("user_id"),
                is_active=True,
                role__in=WRITE_ROLES,
            ).order_by("pk")
        )
        if not members:
            return None
        after = [m for m in members if turn.last_user_id is not None and m.pk > turn.last_user_id]
        chosen = (after or members)[0]
        turn.last_user = chosen
        turn.save(update_fields=["last_user"])
        return chosen


@transaction.atomic
def lead_assign(
    *, actor: User, lead: Lead, owner: User | None = None, team: Team | None = None
) -> Lead:
    """Give the lead to a person, to a team's next member in turn, or (neither given)
    by the firm's rules again."""
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError(_("已转化的线索不能再分配。"))
    before = snapshot(lead, ("owner", "team"))
    if owner is not None:
        _check_staff(owner, "owner")
        lead.owner, lead.team = owner, team
    elif team is not None:
        if team.tenant_id != current_tenant_id():
            raise ValidationError({"team": _("没有找到这个团队。")})
        member = round_robin_next(team)
        if member is None:
            raise ValidationError({"team": _("这个团队没有可以接收线索的成员。")})
        lead.owner, lead.team = member, team
    else:
        lead.owner, lead.team = assignee_for(lead)
    lead.save(update_fields=["owner", "team", "updated_at"])
    changed = diff(before, snapshot(lead, ("owner", "team")))
    if changed:
        _audit(actor, lead, Action.UPDATE, changed)
    return lead


OPEN_LEADS = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)


@transaction.atomic
def lead_hand_over(*, actor: User, lead: Lead, receiver: User, note: str) -> Lead:
    """Give an open lead to `receiver` (its team stays), with the handover note in its
    history."""
    if lead.status not in OPEN_LEADS:
        raise ValidationError(_("只能交接未转化、未废弃的线索。"))
    _check_staff(receiver, "receiver")
    before = snapshot(lead, ("owner",))
    lead.owner = receiver
    lead.save(update_fields=["owner", "updated_at"])
    changes = {**diff(before, snapshot(lead, ("owner",))), "handover_note": [None, note]}
    _audit(actor, lead, Action.UPDATE, changes)
    return lead


# --- status ----------------------------------------------------------------------------


def _set_status(actor: User, lead: Lead, status: str, reason: str = "") -> Lead:
    if status not in STATUS_MOVES[lead.status]:
        raise ValidationError(
            {
                "status": _("线索不能从「%(from)s」变为「%(to)s」。")
                % {"from": lead.get_status_display(), "to": LeadStatus(status).label}
            }
        )
    before = snapshot(lead, ("status", "disqualify_reason"))
    lead.status = status
    lead.disqualify_reason = reason
    lead.save(update_fields=["status", "disqualify_reason", "updated_at"])
    _audit(actor, lead, Action.STATE, diff(before, snapshot(lead, ("status", "disqualify_reason"))))
    return lead


@transaction.atomic
def lead_work(*, actor: User, lead: Lead) -> Lead:
    return _set_status(actor, lead, LeadStatus.WORKING)


@transaction.atomic
def lead_qualify(*, actor: User, lead: Lead) -> Lead:
    return _set_status(actor, lead, LeadStatus.QUALIFIED)


@transaction.atomic
def lead_disqualify(*, actor: User, lead: Lead, reason: str) -> Lead:
    reason = normalize.text(reason)
    if not reason:
        raise ValidationError({"reason": _("请填写废弃原因。")})
    return _set_status(actor, lead, LeadStatus.DISQUALIFIED, reason[:200])


# --- conversion ------------------------------------------------------------------------


def lead_duplicates(lead: Lead) -> list[Party]:
    """Parties the lead may already be: the same mobile, email or 统一社会信用代码, or an
    organisation of exactly the company's name. Persons found by a contact point are
    shown with the organisations that employ them."""
    by_contact = Q()
    for name, kind in CONTACT_KINDS:
        if value := getattr(lead, name):
            by_contact |= Q(kind=kind, value=value)
    ids: set[int] = set()
    if by_contact:
        ids |= set(ContactPoint.objects.filter(by_contact).values_list("party_id", flat=True))
    named = Q(kind=PartyKind.ORGANISATION, name=lead.company) if lead.company else Q(pk=None)
    if lead.uscc:
        named |= Q(uscc=lead.uscc)
    ids |= set(Party.objects.filter(named).values_list("pk", flat=True))
    employers = PartyLink.objects.filter(kind=LinkKind.EMPLOYS, to_party_id__in=ids)
    ids |= set(employers.values_list("from_party_id", flat=True))
    return list(Party.objects.filter(pk__in=ids).order_by("kind", "name")[:20])


def _contacts(lead: Lead) -> list[tuple[str, str]]:
    return [(kind, getattr(lead, name)) for name, kind in CONTACT_KINDS if getattr(lead, name)]


def _new_parties(actor: User, lead: Lead, owner: User) -> tuple[Party, Party | None]:
    """(the party the deal is for, its contact person): an organisation employing a new
    person when the lead names a company, else the person alone."""
    source = lead.get_source_channel_display()
    person = parties.party_create(
        actor=actor,
        kind=PartyKind.PERSON,
        name=lead.name,
        owner=owner,
        roles=[PartyRoleKind.PROSPECT] if not lead.company else [],
        contacts=_contacts(lead),
        source=source,
    )
    if not lead.company:
        return person, None
    company = parties.party_create(
        actor=actor,
        kind=PartyKind.ORGANISATION,
        name=lead.company,
        owner=owner,
        roles=[PartyRoleKind.PROSPECT],
        uscc=lead.uscc,
        province=lead.region[:20],
        source=source,
    )
    parties.party_link_add(
        actor=actor, from_party=company, to_party=person, kind=LinkKind.EMPLOYS, title=lead.title
    )
    return company, person


def _contact_at(actor: User, lead: Lead, company: Party, owner: User) -> Party:
    """The person the lead is at an existing organisation: one it already employs with
    the lead's mobile or email, or a new one it now employs."""
    employed = PartyLink.objects.filter(from_party=company, kind=LinkKind.EMPLOYS)
    values = [value for _kind, value in _contacts(lead)]
    same = ContactPoint.objects.filter(
        party_id__in=employed.values("to_party_id"), value__in=values
    ).first()
    if same is not None:
        return same.party
    person = parties.party_create(
        actor=actor, kind=PartyKind.PERSON, name=lead.name, owner=owner, contacts=_contacts(lead)
    )
    parties.party_link_add(
        actor=actor, from_party=company, to_party=person, kind=LinkKind.EMPLOYS, title=lead.title
    )
    return person


def _deal_lines(lead: Lead) -> list[services.LineIn]:
    product = lead.product_interest
    if product is None or not product.is_active:
        return []
    return [services.LineIn(product, Decimal(1))]


@transaction.atomic
def lead_convert(
    *,
    actor: User,
    lead: Lead,
    existing: Party | None = None,
    create_anyway: bool = False,
    opportunity_name: str = "",
) -> Opportunity:
    """Turn the lead into a customer record and a deal in the default pipeline's first
    stage. With `existing`, the deal is that party's; without it, a lead that looks like
    a party already in the archive is refused (naming the candidates) unless
    `create_anyway`."""
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        raise ValidationError(
            {"status": _("「%(s)s」的线索不能转化。") % {"s": lead.get_status_display()}}
        )
    owner = lead.owner or actor
    if existing is None and not create_anyway and (found := lead_duplicates(lead)):
        raise ValidationError(
            {
                "existing": _(
                    "客户档案中可能已有这个客户：%(names)s。请选择关联已有客户，或确认新建。"
                )
                % {"names": "、".join(p.name for p in found)}
            }
        )
    if existing is None:
        party, contact = _new_parties(actor, lead, owner)
    elif existing.kind == PartyKind.ORGANISATION:
        party, contact = existing, _contact_at(actor, lead, existing, owner)
    else:
        party, contact = existing, None
    interest = lead.product_interest
    name = opportunity_name.strip() or (
        f"{party.name} · {interest.name}" if interest is not None else party.name
    )
    deal = deals.opportunity_create(
        actor=actor,
        party=party,
        name=name[:100],
        contact=contact,
        owner=owner,
        lines=_deal_lines(lead),
        source_channel=lead.source_channel,
        campaign=lead.campaign,
    )
    _mark_converted(actor, lead, party, contact, deal)
    return deal


def _mark_converted(
    actor: User, lead: Lead, party: Party, contact: Party | None, deal: Opportunity
) -> None:
    before = lead.status
    lead.status = LeadStatus.CONVERTED
    lead.converted_party, lead.converted_contact = party, contact
    lead.converted_opportunity = deal
    lead.converted_at = timezone.now()
    lead.save()
    _audit(
        actor,
        lead,
        Action.STATE,
        {"status": [before, LeadStatus.CONVERTED], "converted_party": [None, party.pk]},
    )


RULE_FIELDS = ("position", "region", "product", "team", "user")


@transaction.atomic
def assignment_rule_add(
    *,
    actor: User,
    region: str = "",
    product: Product | None = None,
    team: Team | None = None,
    user: User | None = None,
) -> AssignmentRule:
    """A rule after the existing ones: leads of this region and product go to `user`, or
    in turn to the members of `team`."""
    if (team is None) == (user is None):
        raise ValidationError({"team": _("请选择一个团队或一位员工（二选一）。")})
    if user is not None:
        _check_staff(user, "user")
    last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True)
    rule = AssignmentRule(
        tenant_id=current_tenant_id(),
        position=(last.first() or 0) + 1,
        region=normalize.text(region),
        product=product,
        team=team,
        user=user,
    )
    rule.full_clean(exclude=["tenant", "product", "team", "user"], validate_constraints=False)
    rule.save()
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=rule,
        changes=diff({}, snapshot(rule, RULE_FIELDS)),
    )
    return rule


@transaction.atomic
def assignment_rule_remove(*, actor: User, rule: AssignmentRule) -> None:
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=rule,
        changes=diff(snapshot(rule, RULE_FIELDS), {}),
    )
    rule.delete()


# --- web forms -------------------------------------------------------------------------

# What a public form may ask besides the name (always asked).
WEB_FORM_FIELDS = (
    "company",
    "title",
    "mobile",
    "email",
    "wechat",
    "region",
    "product_interest",
    "note",
)
WEB_FORM_SETTINGS = (
    "title",
    "fields",
    "source_channel",
    "campaign",
    "thank_you",
    "allowed_origins",
    "is_active",
)


def _check_web_form(form: WebForm) -> None:
    form.title = normalize.text(form.title)
    unknown = set(form.fields) - set(WEB_FORM_FIELDS)
    if unknown:
        raise ValidationError({"fields": _("未知字段：%(f)s") % {"f": ", ".join(sorted(unknown))}})
    if not {"mobile", "email", "wechat"} & set(form.fields):
        raise ValidationError({"fields": _("表单至少要询问手机、邮箱或微信中的一项。")})
    form.fields = [f for f in WEB_FORM_FIELDS if f in form.fields]
    origins = form.allowed_origins.split()
    bad = [o for o in origins if not o.startswith(("https://", "http://"))]
    if bad:
        raise ValidationError(
            {"allowed_origins": _("网站地址应以 https:// 开头：%(o)s") % {"o": bad[0]}}
        )
    form.allowed_origins = " ".join(origins)
    form.full_clean(exclude=["tenant", "token"], validate_constraints=False)


@transaction.atomic
def web_form_create(*, actor: User, title: str, fields: list[str], **options: Any) -> WebForm:
    """A public lead form with a fresh unguessable token (its address)."""
    form = WebForm(
        tenant_id=current_tenant_id(),
        title=title,
        fields=list(fields),
        token=secrets.token_urlsafe(18),
        **options,
    )
    _check_web_form(form)
    form.save()
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=form,
        changes=diff({}, snapshot(form, WEB_FORM_SETTINGS)),
    )
    return form


@transaction.atomic
def web_form_update(*, actor: User, form: WebForm, **changes: Any) -> WebForm:
    unknown = set(changes) - set(WEB_FORM_SETTINGS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(form, WEB_FORM_SETTINGS)
    for name, value in changes.items():
        setattr(form, name, value)
    _check_web_form(form)
    form.save()
    changed = diff(before, snapshot(form, WEB_FORM_SETTINGS))
    if changed:
        audit_write(actor_id=actor.pk, action=Action.UPDATE, obj=form, changes=changed)
    return form
