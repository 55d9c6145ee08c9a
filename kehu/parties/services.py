"""Writes to the customer archive. Each runs in one transaction and writes the audit log.

Callers (views, API, tasks) have already checked that the actor may make the change
(see selectors.get_party_for_user); these functions enforce the data's own rules.
"""

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.bulk import AUDIT_COLUMNS, BulkWriter
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties import search
from kehu.parties.models import (
    STATE_MOVES,
    AccountTeamMember,
    Address,
    ContactPoint,
    ImportantDate,
    LinkKind,
    OwnershipChange,
    OwnershipKind,
    Party,
    PartyKind,
    PartyLink,
    PartyRole,
    PartyTag,
    Preference,
    RelationshipState,
    StateChange,
    Tag,
)
from kehu.parties.normalize import pinyin_full, pinyin_initials
from kehu.tenancy.models import User

PARTY_FIELDS = (
    "kind",
    "name",
    "uscc",
    "gender",
    "industry",
    "website",
    "source",
    "description",
    "is_direct",
    "owner",
    "province",
    "city",
    "district",
)
EDITABLE_FIELDS = frozenset(PARTY_FIELDS) - {"kind"}
Action = AuditEntry.Action


def _check_owner(owner: User) -> None:
    """A party always has an owner, and the owner is active staff of the same tenant."""
    if owner.tenant_id != current_tenant_id() or not owner.is_active:
        raise ValidationError({"owner": _("负责人必须是本公司在职员工。")})


def party_touch(*, actor: User, party_ids: Iterable[int]) -> None:
    """The actor did something with these parties: where the actor is the owner, the
    pool's idle clock starts again (what counts: docs/decisions/0006-customer-pool.md)."""
    Party.objects.filter(pk__in=list(party_ids), owner=actor).update(
        owner_touched_at=timezone.now()
    )


OWNERSHIP_FIELDS = ("kind", "from_owner", "to_owner", "note")


def ownership_record(
    *,
    actor: User | None,
    party: Party,
    from_owner_id: int | None,
    kind: str,
    note: str = "",
    at: datetime.datetime | None = None,
    audit: bool = True,
) -> OwnershipChange:
    """Write down that `party` passed from one owner to its current one, in its history
    and on its timeline. Callers have set the new owner (and pool fields) already;
    `audit=False` where the caller's own audit entry already holds the owner's change."""
    change = OwnershipChange(
        party=party,
        kind=kind,
        from_owner_id=from_owner_id,
        to_owner_id=party.owner_id,
        note=note.strip(),
        changed_by=actor,
        changed_at=at or timezone.now(),
    )
    change.full_clean(exclude=["tenant", "party", "from_owner", "to_owner", "changed_by"])
    change.save()
    if not audit:
        return change
    audit_write(
        actor_id=actor.pk if actor else None,
        action=Action.UPDATE,
        obj=change,
        changes=diff({}, snapshot(change, OWNERSHIP_FIELDS)),
        root=party,
    )
    return change


def party_clean(party: Party, *, check_unique: bool = True) -> None:
    """The rules every saved party meets, and its pinyin. Bulk writers (imports) pass
    check_unique=False and check the 统一社会信用代码 for a whole batch in one query."""
    party.full_clean(
        exclude=["tenant", "owner", "created_by", "name_pinyin", "name_initials"],
        validate_unique=check_unique,
        validate_constraints=check_unique,
    )
    party.name_pinyin = pinyin_full(party.name)[:300]
    party.name_initials = pinyin_initials(party.name)[:100]


def _save_party(party: Party) -> None:
    party_clean(party)
    try:
        with transaction.atomic():
            party.save()
    except IntegrityError as exc:
        raise ValidationError({"uscc": _("已有客户使用这个统一社会信用代码。")}) from exc


@transaction.atomic
def party_create(
    *,
    actor: User,
    kind: str,
    name: str,
    owner: User | None = None,
    roles: Sequence[str] = (),
    relationship_state: str = RelationshipState.POTENTIAL,
    contacts: Sequence[tuple[str, str]] = (),
    **fields: Any,
) -> Party:
    """A new organisation or person; the actor owns it unless an owner is given."""
    owner = owner or actor
    _check_owner(owner)
    party = Party(
        kind=kind,
        name=name,
        owner=owner,
        created_by=actor,
        relationship_state=relationship_state,
        **fields,
    )
    _save_party(party)
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=party,
        changes=diff({}, snapshot(party, (*PARTY_FIELDS, "relationship_state"))),
    )
    for role in roles:
        party_role_add(actor=actor, party=party, role=role)
    for contact_kind, value in contacts:
        contact_point_add(actor=actor, party=party, kind=contact_kind, value=value, refresh=False)
    search.refresh_keys(party)
    return party


@transaction.atomic
def party_update(*, actor: User, party: Party, **changes: Any) -> Party:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(party, PARTY_FIELDS)
    for name, value in changes.items():
        setattr(party, name, value)
    if "owner" in changes:
        _check_owner(party.owner)
    new_owner = party.owner_id != before["owner"]
    was_in_pool = party.in_pool
    if new_owner or party.owner_id == actor.pk:
        party.owner_touched_at = timezone.now()
    if new_owner:  # an owner chosen by hand takes the party out of the pool
        party.in_pool_since = None
        party.pool_previous_owner = None
    _save_party(party)
    changed = diff(before, snapshot(party, PARTY_FIELDS))
    if changed:
        audit_write(actor_id=actor.pk, action=Action.UPDATE, obj=party, changes=changed)
    if new_owner:
        kind = OwnershipKind.POOL_ASSIGN if was_in_pool else OwnershipKind.EDIT
        ownership_record(
            actor=actor, party=party, from_owner_id=before["owner"], kind=kind, audit=False
        )
    if "name" in changed:
        search.refresh_keys(party)
    return party


@transaction.atomic
def party_delete(*, actor: User, party: Party) -> None:
    """Soft delete: the party leaves every list and search but can be restored."""
    party.deleted_at = timezone.now()
    party.save(update_fields=["deleted_at", "updated_at"])
    audit_write(actor_id=actor.pk, action=Action.DELETE, obj=party, changes={})


@transaction.atomic
def party_restore(*, actor: User, party: Party) -> None:
    party.deleted_at = None
    party.save(update_fields=["deleted_at", "updated_at"])
    audit_write(actor_id=actor.pk, action=Action.RESTORE, obj=party, changes={})


@transaction.atomic
def party_change_state(
    *, actor: User, party: Party, to_state: str, reason: str, at: datetime.datetime | None = None
) -> StateChange:
    """Move the relationship along potential → target → current → lost → won back."""
    change = _state_change(actor, party, to_state, reason, at or timezone.now())
    change.full_clean(exclude=["tenant", "party", "changed_by"])
    change.save()
    party_touch(actor=actor, party_ids=[party.pk])
    party.relationship_state = to_state
    party.save(update_fields=["relationship_state", "updated_at"])
    audit_write(actor_id=actor.pk, action=Action.STATE, obj=party, changes=_state_audit(change))
    return change


def _state_change(
    actor: User, party: Party, to_state: str, reason: str, at: datetime.datetime
) -> StateChange:
    """The record of a move, once the move is known to be allowed (else ValidationError)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("请说明状态变更的原因。")})
    from_state = party.relationship_state
    if to_state not in STATE_MOVES.get(from_state, frozenset()):
        raise ValidationError(
            {
                "to_state": _("不能从「%(from)s」变为「%(to)s」。")
                % {
                    "from": RelationshipState(from_state).label,
                    "to": RelationshipState(to_state).label
                    if to_state in RelationshipState.values
                    else to_state,
                }
            }
        )
    return StateChange(
        tenant_id=party.tenant_id,
        party=party,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        changed_by=actor,
        changed_at=at,
    )


def _state_audit(change: StateChange) -> dict[str, list[Any]]:
    return {
        "relationship_state": [change.from_state, change.to_state],
        "reason": [None, change.reason],
    }


@transaction.atomic
def party_states_change_bulk(
    *, actor: User, moves: Sequence[tuple[Party, str, str]], at: datetime.datetime | None = None
) -> None:
    """Many (party, to_state, reason) moves in a few queries, with the same rules, history
    and audit as `party_change_state` (bulk order imports make many customers at once).
    The history and audit rows go in as plain rows (BulkWriter): an import's first batch
    can make a thousand customers."""
    at = at or timezone.now()
    changes = [_state_change(actor, party, to, reason, at) for party, to, reason in moves]
    writer = BulkWriter(current_tenant_id(), at)
    writer.insert(
        StateChange,
        ("party_id", "from_state", "to_state", "reason", "changed_by_id", "changed_at"),
        [(c.party_id, c.from_state, c.to_state, c.reason, actor.pk, at) for c in changes],
    )
    by_state: dict[str, list[int]] = {}
    for party, to_state, _reason in moves:
        by_state.setdefault(to_state, []).append(party.pk)
        party.relationship_state = to_state
    for to_state, ids in by_state.items():
        Party.objects.filter(pk__in=ids).update(relationship_state=to_state, updated_at=at)
    party_touch(actor=actor, party_ids=[party.pk for party, _to, _reason in moves])
    kind = Party._meta.label_lower
    entries = [
        (actor.pk, Action.STATE, kind, party.pk, str(party)[:200], kind, party.pk, _state_audit(c))
        for c, (party, _to, _reason) in zip(changes, moves, strict=True)
    ]
    writer.insert(AuditEntry, AUDIT_COLUMNS, entries)


def _add_part(actor: User, party: Party, part: Any, fields: Iterable[str]) -> None:
    """Validate and save a part of a party (phone, address, tag …) and audit it."""
    part.party = party
    part.full_clean(exclude=["tenant", "party"])
    try:
        with transaction.atomic():
            part.save()
    except IntegrityError as exc:
        raise ValidationError(_("这条记录已经存在。")) from exc
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=part,
        changes=diff({}, snapshot(part, fields)),
        root=party,
    )
    party_touch(actor=actor, party_ids=[party.pk])


def _remove_part(actor: User, party: Party, part: Any, fields: Iterable[str]) -> None:
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=part,
        changes=diff(snapshot(part, fields), {}),
        root=party,
    )
    part.delete()
    party_touch(actor=actor, party_ids=[party.pk])


@transaction.atomic
def party_role_add(*, actor: User, party: Party, role: str) -> PartyRole:
    part = PartyRole(role=role)
    _add_part(actor, party, part, ("role",))
    return part


@transaction.atomic
def party_role_remove(*, actor: User, party: Party, role: str) -> None:
    for part in PartyRole.objects.filter(party=party, role=role):
        _remove_part(actor, party, part, ("role",))


@transaction.atomic
def party_roles_set(*, actor: User, party: Party, roles: Iterable[str]) -> None:
    wanted = set(roles)
    have = set(PartyRole.objects.filter(party=party).values_list("role", flat=True))
    for role in sorted(have - wanted):
        party_role_remove(actor=actor, party=party, role=role)
    for role in sorted(wanted - have):
        party_role_add(actor=actor, party=party, role=role)


CONTACT_FIELDS = ("kind", "value", "label", "is_primary")


@transaction.atomic
def contact_point_add(
    *,
    actor: User,
    party: Party,
    kind: str,
    value: str,
    label: str = "",
    is_primary: bool = False,
    refresh: bool = True,
) -> ContactPoint:
    part = ContactPoint(kind=kind, value=value, label=label, is_primary=is_primary)
    part.party = party
    part.full_clean(exclude=["tenant", "party"])
    if ContactPoint.objects.filter(party=party, kind=part.kind, value=part.value).exists():
        raise ValidationError({"value": _("这个客户已有该联系方式：%(value)s") % {"value": value}})
    if is_primary:
        ContactPoint.objects.filter(party=party, kind=part.kind).update(is_primary=False)
    _add_part(actor, party, part, CONTACT_FIELDS)
    if refresh:
        search.refresh_keys(party)
    return part


@transaction.atomic
def contact_point_remove(*, actor: User, party: Party, contact: ContactPoint) -> None:
    _remove_part(actor, party, contact, CONTACT_FIELDS)
    search.refresh_keys(party)


ADDRESS_FIELDS = ("kind", "province", "city", "district", "street", "postcode", "is_primary")


@transaction.atomic
def address_add(*, actor: User, party: Party, is_primary: bool = False, **fields: Any) -> Address:
    """A new address; the primary address (or the first) sets the party's region."""
    part = Address(is_primary=is_primary, **fields)
    if is_primary:
        # One primary address: the new one takes the flag from any other.
        Address.objects.filter(party=party, is_primary=True).update(is_primary=False)
    _add_part(actor, party, part, ADDRESS_FIELDS)
    if is_primary or not party.province:
        party_update(
            actor=actor,
            party=party,
            province=part.province,
            city=part.city,
            district=part.district,
        )
    return part


@transaction.atomic
def address_remove(*, actor: User, party: Party, address: Address) -> None:
    _remove_part(actor, party, address, ADDRESS_FIELDS)


@transaction.atomic
def tag_add(*, actor: User, party: Party, name: str) -> PartyTag:
    name = " ".join(name.split())
    if not name or len(name) > 30:
        raise ValidationError({"name": _("标签应为 1–30 个字符。")})
    tag, _created = Tag.objects.get_or_create(tenant_id=party.tenant_id, name=name)
    part = PartyTag(tag=tag)
    _add_part(actor, party, part, ("tag",))
    return part


@transaction.atomic
def tag_remove(*, actor: User, party: Party, party_tag: PartyTag) -> None:
    _remove_part(actor, party, party_tag, ("tag",))


@transaction.atomic
def preference_add(*, actor: User, party: Party, category: str, content: str) -> Preference:
    part = Preference(category=category, content=content)
    _add_part(actor, party, part, ("category", "content"))
    return part


@transaction.atomic
def preference_remove(*, actor: User, party: Party, preference: Preference) -> None:
    _remove_part(actor, party, preference, ("category", "content"))


DATE_FIELDS = ("kind", "date", "label", "repeats_yearly", "remind_days_before")


@transaction.atomic
def important_date_add(*, actor: User, party: Party, **fields: Any) -> ImportantDate:
    part = ImportantDate(**fields)
    _add_part(actor, party, part, DATE_FIELDS)
    return part


@transaction.atomic
def important_date_remove(*, actor: User, party: Party, important_date: ImportantDate) -> None:
    _remove_part(actor, party, important_date, DATE_FIELDS)


LINK_FIELDS = ("from_party", "to_party", "kind", "title", "note")


@transaction.atomic
def party_link_add(
    *, actor: User, from_party: Party, to_party: Party, kind: str, title: str = "", note: str = ""
) -> PartyLink:
    """Link two parties of the same tenant (an organisation employs a person, …)."""
    if from_party.pk == to_party.pk:
        raise ValidationError({"to_party": _("不能与自己建立关系。")})
    if kind == LinkKind.EMPLOYS and not (
        from_party.kind == PartyKind.ORGANISATION and to_party.kind == PartyKind.PERSON
    ):
        raise ValidationError({"kind": _("「雇用」关系必须由组织指向个人。")})
    link = PartyLink(to_party=to_party, kind=kind, title=title, note=note)
    link.from_party = from_party
    link.full_clean(exclude=["tenant", "from_party", "to_party"])
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError as exc:
        raise ValidationError(_("这条关系已经存在。")) from exc
    for root in (from_party, to_party):
        audit_write(
            actor_id=actor.pk,
            action=Action.CREATE,
            obj=link,
            changes=diff({}, snapshot(link, LINK_FIELDS)),
            root=root,
        )
    party_touch(actor=actor, party_ids=[from_party.pk, to_party.pk])
    return link


@transaction.atomic
def party_link_remove(*, actor: User, link: PartyLink) -> None:
    for root in (link.from_party, link.to_party):
        audit_write(
            actor_id=actor.pk,
            action=Action.DELETE,
            obj=link,
            changes=diff(snapshot(link, LINK_FIELDS), {}),
            root=root,
        )
    party_touch(actor=actor, party_ids=[link.from_party_id, link.to_party_id])
    link.delete()


@transaction.atomic
def account_team_add(*, actor: User, party: Party, user: User, role: str) -> AccountTeamMember:
    if user.tenant_id != party.tenant_id or not user.is_active:
        raise ValidationError({"user": _("只能添加本公司在职员工。")})
    part = AccountTeamMember(user=user, role=role)
    _add_part(actor, party, part, ("user", "role"))
    return part


@transaction.atomic
def account_team_remove(*, actor: User, party: Party, member: AccountTeamMember) -> None:
    _remove_part(actor, party, member, ("user", "role"))


# Handover (kehu/tenancy/handover.py): a leaving colleague's records move with a note.


@transaction.atomic
def party_hand_over(*, actor: User, party: Party, receiver: User, note: str) -> Party:
    """Give the party to `receiver`. A party in the pool stays there, held by them."""
    _check_owner(receiver)
    previous = party.owner_id
    party.owner = receiver
    party.owner_touched_at = timezone.now()
    party.save(update_fields=["owner", "owner_touched_at", "updated_at"])
    ownership_record(
        actor=actor, party=party, from_owner_id=previous, kind=OwnershipKind.HANDOVER, note=note
    )
    return party


@transaction.atomic
def account_team_hand_over(
    *, actor: User, member: AccountTeamMember, receiver: User, note: str
) -> None:
    """Put `receiver` in the colleague's place on a party's account team (or just remove
    the colleague, where the receiver owns the party or is on its team already)."""
    party = member.party
    fields = ("user", "role")
    taken = party.owner_id == receiver.pk or party.account_team.filter(user=receiver).exists()
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=member,
        changes={**diff(snapshot(member, fields), {}), "handover_note": [None, note]},
        root=party,
    )
    role = member.role
    member.delete()
    if taken:
        return
    new = AccountTeamMember.objects.create(
        tenant_id=party.tenant_id, party=party, user=receiver, role=role
    )
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=new,
        changes={**diff({}, snapshot(new, fields)), "handover_note": [None, note]},
        root=party,
    )
