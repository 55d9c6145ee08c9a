"""Writes of the customer pool (公海): its rule, releasing, claiming and assigning parties.

A party in the pool keeps an owner: the pool's custodian (selectors.pool_custodian).
Every move into or out of the pool is one conditional UPDATE, so two people acting on
the same party at once cannot both win: the loser's UPDATE matches no row. Each move is
written to the party's ownership history (its timeline) and the audit log.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.models import AuditEntry
from kehu.parties.models import OwnershipKind, Party
from kehu.parties.services import ownership_record
from kehu.pool.models import PoolSettings
from kehu.pool.selectors import claims_in_window, pool_custodian, pool_settings
from kehu.tenancy.models import User

RULE_FIELDS = ("enabled", "idle_days", "claim_limit", "claim_window_days", "custodian")
SWEEP_BATCH = 500


class PoolConflict(ValidationError):
    """Someone else moved the party first (claimed it, or released it already)."""


@transaction.atomic
def pool_settings_update(*, actor: User, **changes: object) -> PoolSettings:
    rule = pool_settings()
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(rule, RULE_FIELDS) if rule.pk else {}
    for name, value in changes.items():
        setattr(rule, name, value)
    custodian = rule.custodian
    if custodian is not None and not (
        custodian.can_manage and custodian.tenant_id == rule.tenant_id
    ):
        raise ValidationError({"custodian": _("公海管理员必须是在职的管理员或经理。")})
    rule.full_clean(exclude=["tenant", "custodian"])
    rule.save()
    changed = diff(before, snapshot(rule, RULE_FIELDS))
    if changed:
        action = AuditEntry.Action.UPDATE if before else AuditEntry.Action.CREATE
        audit_write(actor_id=actor.pk, action=action, obj=rule, changes=changed)
    return rule


def _custodian() -> User:
    custodian = pool_custodian(pool_settings())
    if custodian is None:
        raise ValidationError(_("公司没有在职的管理员，无法代管公海客户。"))
    return custodian


def _into_pool(
    *,
    actor: User | None,
    party: Party,
    kind: str,
    note: str,
    now: datetime.datetime,
    custodian: User,
    idle_before: datetime.datetime | None = None,
) -> bool:
    """Move one party into the pool unless it is there already (or, for the sweep,
    its owner touched it after `idle_before`); True if this call moved it."""
    rows = Party.objects.filter(pk=party.pk, in_pool_since__isnull=True)
    if idle_before is not None:
        rows = rows.filter(owner_touched_at__lt=idle_before)
    # SET reads the row's old values: the previous owner is the owner being replaced.
    moved = rows.update(
        in_pool_since=now, pool_previous_owner=F("owner"), owner=custodian, updated_at=now
    )
    if not moved:
        return False
    party.refresh_from_db(fields=["owner", "in_pool_since", "pool_previous_owner", "updated_at"])
    ownership_record(
        actor=actor,
        party=party,
        from_owner_id=party.pool_previous_owner_id,
        kind=kind,
        note=note,
        at=now,
    )
    return True


@transaction.atomic
def pool_release(*, actor: User, party: Party, reason: str) -> Party:
    """A manager returns a party to the pool by hand, saying why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("请说明退回公海的原因。")})
    moved = _into_pool(
        actor=actor,
        party=party,
        kind=OwnershipKind.POOL_RELEASE,
        note=reason,
        now=timezone.now(),
        custodian=_custodian(),
    )
    if not moved:
        raise PoolConflict(_("「%(name)s」已经在公海中。") % {"name": party.name})
    return party


def pool_sweep(*, now: datetime.datetime | None = None) -> int:
    """Return to the pool every party of the current firm whose owner has not touched it
    for the rule's days; the number moved. Deleted parties stay where they are."""
    rule = pool_settings()
    if not rule.enabled or rule.pk is None:
        return 0
    now = now or timezone.now()
    idle_before = now - datetime.timedelta(days=rule.idle_days)
    custodian = pool_custodian(rule)
    if custodian is None:
        return 0
    idle = Party.objects.filter(in_pool_since__isnull=True, owner_touched_at__lt=idle_before)
    moved = 0
    while batch := list(idle.order_by("owner_touched_at", "id")[:SWEEP_BATCH]):
        with transaction.atomic():
            moved += sum(
                _into_pool(
                    actor=None,
                    party=party,
                    kind=OwnershipKind.POOL_AUTO_RELEASE,
                    note=_("负责人 %(days)s 天未跟进") % {"days": rule.idle_days},
                    now=now,
                    custodian=custodian,
                    idle_before=idle_before,
                )
                for party in batch
            )
    rule.last_swept_at, rule.last_swept_moved = now, moved
    rule.save(update_fields=["last_swept_at", "last_swept_moved", "updated_at"])
    return moved


def _out_of_pool(*, actor: User, party: Party, owner: User, kind: str, note: str) -> None:
    now = timezone.now()
    moved = Party.objects.filter(pk=party.pk, in_pool_since__isnull=False).update(
        owner=owner,
        in_pool_since=None,
        pool_previous_owner=None,
        owner_touched_at=now,
        updated_at=now,
    )
    if not moved:
        party.refresh_from_db(fields=["owner"])
        raise PoolConflict(
            _("「%(name)s」已不在公海中，现由 %(owner)s 负责。")
            % {"name": party.name, "owner": party.owner}
        )
    previous = party.owner_id
    party.refresh_from_db(fields=["owner", "in_pool_since", "pool_previous_owner", "updated_at"])
    party.owner_touched_at = now
    ownership_record(actor=actor, party=party, from_owner_id=previous, kind=kind, note=note, at=now)


@transaction.atomic
def pool_claim(*, actor: User, party: Party) -> Party:
    """A rep takes a party from the pool, within the claim limit."""
    rule = pool_settings()
    # One rep's claims queue up behind this lock, so two at once cannot pass the limit.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    used = claims_in_window(actor, rule)
    if used >= rule.claim_limit:
        raise ValidationError(
            _("已达领取上限：每 %(days)s 天最多领取 %(n)s 个客户。")
            % {"days": rule.claim_window_days, "n": rule.claim_limit}
        )
    _out_of_pool(actor=actor, party=party, owner=actor, kind=OwnershipKind.POOL_CLAIM, note="")
    return party


@transaction.atomic
def pool_assign(*, actor: User, party: Party, owner: User, note: str = "") -> Party:
    """A manager gives a pool party to a colleague (not counted against their limit)."""
    if owner.tenant_id != party.tenant_id or not owner.is_active:
        raise ValidationError({"owner": _("负责人必须是本公司在职员工。")})
    _out_of_pool(actor=actor, party=party, owner=owner, kind=OwnershipKind.POOL_ASSIGN, note=note)
    return party
