"""The archive's own rules for a party and its contact points, fast enough for a million
rows.

`ContactPoint.clean` and `Party.full_clean` build a model instance per value and run
libphonenumber's general parser (~110 µs a mobile) and Django's full email validator
(~40 µs); a row of a customer file has two parties and several contacts. Here:

- a mainland mobile typed as 11 digits (with or without +86, spaces or dashes) is
  matched against libphonenumber's own pattern for Chinese mobiles, which is what
  `phonenumbers.is_valid_number` ends by doing; anything else goes through
  `ContactPoint.clean` itself, so an error reads exactly as the archive's form says it;
- an email is checked with the pieces of Django's `validate_email` (the same regexes),
  the domain part remembered per domain (a file has thousands of addresses at qq.com);
- a party's (or an address's) fields are cleaned by the model fields themselves
  (`Field.clean`: choices, lengths, URL), remembered per distinct value, then the
  model's `clean` runs on one reused instance (for a party: the name, the 统一社会信用代码,
  kind-specific fields).

A value accepted here is the value the archive would store, and a value refused gets the
archive's message: tests compare both paths value by value.
"""

import functools
import re
from collections.abc import Collection
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from kehu.parties import normalize
from kehu.parties.models import Address, ContactKind, ContactPoint, Party

_MOBILE_TYPED = re.compile(r"^(?:\+?86)?(1\d{10})$")


def _mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None and metadata.mobile is not None
    return re.compile(str(metadata.mobile.national_number_pattern))


_MOBILE_PATTERN = _mobile_pattern()
# The ordinary mobile ranges, which libphonenumber shows as 138 1234 5678.
_MOBILE_DISPLAY = re.compile(r"^1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}$")
_SEPARATORS = str.maketrans("", "", " -")


def mobile_fast(value: str) -> str | None:
    """E.164 of a plainly typed mainland mobile, or None (then ask the slow path)."""
    match = _MOBILE_TYPED.match(value.translate(_SEPARATORS))
    if match is None or not _MOBILE_PATTERN.fullmatch(match.group(1)):
        return None
    return "+86" + match.group(1)


@functools.lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    return domain in validate_email.domain_allowlist or validate_email.validate_domain_part(domain)


def email_ok(value: str) -> bool:
    """`validate_email(value)` without raising, its domain check remembered."""
    if not value or "@" not in value or len(value) > 320:
        return False
    user, domain = value.rsplit("@", 1)
    return bool(validate_email.user_regex.match(user)) and _domain_ok(domain)


class ContactChecker:
    """`ContactPoint.clean` for a stream of values, on one reused instance."""

    def __init__(self) -> None:
        self.scratch = ContactPoint()

    def clean(self, kind: str, value: str) -> str:
        """The stored form of the value, or ValidationError with the archive's messages."""
        cell = normalize.text(value)
        if kind == ContactKind.MOBILE or kind == ContactKind.PHONE:
            fast = mobile_fast(cell)
            if fast is not None:
                return fast
        elif kind == ContactKind.EMAIL and email_ok(cell.lower()):
            return cell.lower()
        self.scratch.kind, self.scratch.value = kind, value
        try:
            self.scratch.clean()
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc
        return self.scratch.value


def contact_display(kind: str, value: str) -> str:
    """`str(ContactPoint(kind=kind, value=value))` (the audit log's object text)."""
    if kind == ContactKind.MOBILE or kind == ContactKind.PHONE:
        national = value[3:] if value.startswith("+86") else ""
        if _MOBILE_DISPLAY.match(national):
            return f"{national[:3]} {national[3:7]} {national[7:]}"
        return normalize.phone_display(value)
    return value


# Parties and addresses


@functools.lru_cache(maxsize=65536)
def _field_clean(model: type[models.Model], name: str, value: Any) -> tuple[Any, tuple[str, ...]]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    try:
        return field.clean(value, None), ()
    except ValidationError as exc:
        return value, tuple(exc.messages)


class ModelChecker:
    """`full_clean` of a model for a stream of field dicts (no uniqueness: bulk writers
    check that for a whole batch): each field by the model field's own `clean`,
    remembered per distinct value, then the model's `clean` on one reused instance."""

    def __init__(self, model: type[models.Model], skip: Collection[str] = ()) -> None:
        self.model = model
        self.skip = frozenset(skip)
        self.scratch = model()
        self.blank = {f.name for f in model._meta.concrete_fields if f.blank}
        self.defaults = {
            f.attname: getattr(self.scratch, f.attname)
            for f in model._meta.concrete_fields
            if not f.is_relation
        }

    def clean(self, fields: dict[str, Any]) -> dict[str, list[str]]:
        """Clean `fields` in place; {field: messages} for what the archive refuses."""
        errors: dict[str, list[str]] = {}
        for name, value in fields.items():
            if name in self.skip or (value == "" and name in self.blank):
                continue
            cleaned, messages = _field_clean(self.model, name, value)
            if messages:
                errors[name] = list(messages)
            else:
                fields[name] = cleaned
        if errors:
            return errors
        scratch = self.scratch
        scratch.__dict__.update(self.defaults)
        scratch.__dict__.update((k, v) for k, v in fields.items() if k in self.defaults)
        try:
            scratch.clean()
        except ValidationError as exc:
            return exc.message_dict
        fields.update((k, getattr(scratch, k)) for k in fields if k in self.defaults)
        return {}


def party_checker() -> ModelChecker:
    """`party_clean(party, check_unique=False)` without the pinyin (see `pinyin`)."""
    return ModelChecker(Party, skip={"owner"})


def address_checker() -> ModelChecker:
    return ModelChecker(Address)


def pinyin(name: str) -> tuple[str, str]:
    """(name_pinyin, name_initials) as `party_clean` sets them."""
    return normalize.pinyin_full(name)[:300], normalize.pinyin_initials(name)[:100]
