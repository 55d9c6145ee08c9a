"""Which column of a file holds which field: guessed from the headers, corrected by the
user, saved as a template.

A mapping is {column index (text): field key}. Guessing compares a tidied header with
each field's synonyms (Chinese and English): an exact match first, then a header that
ends with a synonym (联系人手机 is a 手机: in Chinese the noun comes last), then one
that contains it; the longest synonym wins, and each field takes one column unless it
accepts several (phones, emails, tags).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.functional import Promise

from kehu.parties import normalize

Mapping = dict[str, str]
_NOISE = re.compile(r"[\s*＊:：()（）\[\]【】_\-]|必填|选填|\d+$")


@dataclass(frozen=True)
class TargetField:
    key: str
    label: Promise
    synonyms: tuple[str, ...]
    many: bool = False  # several columns may feed it (手机1, 手机2)


def tidy_header(header: str) -> str:
    return _NOISE.sub("", normalize.search_text(header))


def _score(header: str, synonym: str) -> int:
    """How well a tidied header matches a synonym: 3 exact, 2 suffix, 1 contains, 0 not."""
    if header == synonym:
        return 3
    if header.endswith(synonym):
        return 2
    return 1 if synonym in header else 0


def _best_field(header: str, fields: Sequence[TargetField]) -> TargetField | None:
    best: tuple[int, int, int] = (0, 0, 0)
    chosen = None
    for order, field in enumerate(fields):
        for synonym in field.synonyms:
            score = (_score(header, tidy_header(synonym)), len(synonym), -order)
            if score[0] and score > best:
                best, chosen = score, field
    return chosen


def guess(headers: Sequence[str], fields: Sequence[TargetField]) -> Mapping:
    mapping: Mapping = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = _best_field(tidy_header(header), fields)
        if field is None or (field.key in taken and not field.many):
            continue
        mapping[str(index)] = field.key
        taken.add(field.key)
    return mapping


def from_template(headers: Sequence[str], columns: dict[str, str], keys: set[str]) -> Mapping:
    """A saved {header: field} template applied to this file's headers."""
    by_header = {tidy_header(h): f for h, f in columns.items() if f in keys}
    return {
        str(i): by_header[tidy_header(h)]
        for i, h in enumerate(headers)
        if tidy_header(h) in by_header
    }


def to_template(headers: Sequence[str], mapping: Mapping) -> dict[str, str]:
    return {headers[int(i)]: key for i, key in mapping.items() if int(i) < len(headers)}
