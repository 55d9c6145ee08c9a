"""Scoring the pairs of many blocks at once: the inner loop of the duplicate scan.

`dedup.score_pair` decides every pair, but it is Python, microseconds a pair, and the
blocks of a million-party archive hold tens of millions of pairs. Here the pairs of a
batch of blocks first go through the sums of `dedup.could_match` and `dedup.may_reach`
on numpy columns of the profiles (kinds, USCCs, shared phones and emails, birthdays,
places, whether there is an address), with the names' similarity computed in C by
rapidfuzz (`cdist` over a large block's names). Only a pair those bounds let through is
scored in Python, exactly as before; the bounds are the same sums, so the pairs found
are the pairs that scoring every pair would find (a test compares the two).
"""

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from kehu.dataio import dedup
from kehu.dataio.dedup import Match, Profile

# Blocks of at least this many profiles get their names compared as a matrix (one
# `cdist` call); the pairs of smaller blocks are taken together, pair by pair.
MATRIX_MIN = 6
# Floating-point room for the similarities computed in C: a bound may let through a
# pair that fails it exactly, never the other way round.
_SLACK = 1e-9
_REACH = 1e-4  # dedup._ROUNDING: a score is rounded to 4 places before the threshold

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]


class _Codes:
    """Equal values get equal integers (1, 2, …; 0 is "none")."""

    def __init__(self) -> None:
        self.codes: dict[object, int] = {}

    def __call__(self, value: object) -> int:
        if not value:
            return 0
        return self.codes.setdefault(value, len(self.codes) + 1)


def _code_point(number: int) -> str:
    """The number-th character that is no surrogate (a syllable's stand-in). Past the
    last one, numbers share characters: two different syllables then compare as equal,
    which can only raise the bound's similarity (so nothing is lost)."""
    number %= 0x10FFFF - 0x800
    return chr(number + 1 if number + 1 < 0xD800 else number + 1 + 0x800)


def _padded(values: list[list[int]]) -> tuple[Ints, Bools]:
    """Codes per profile as an (n, width) matrix padded with -1, and which profiles have
    more than `width` codes (treated as sharing with every profile)."""
    width = min(max((len(v) for v in values), default=0), 8) or 1
    out = np.full((len(values), width), -1, dtype=np.int64)
    over = np.zeros(len(values), dtype=bool)
    for i, codes in enumerate(values):
        if len(codes) > width:
            over[i] = True
        for j, code in enumerate(codes[:width]):
            out[i, j] = code
    return out, over


@dataclass(frozen=True, eq=False)
class Columns:
    """The profiles as arrays, by position; the profiles are sorted by id."""

    profiles: list[Profile]
    ids: Ints
    person: Bools
    weight: Floats
    keys: list[str]
    sounds: list[str]  # the pinyin syllables, one character each
    has_key: Bools
    reorder: Ints  # a code of a person's syllables sorted; -1 for organisations
    phones: Ints
    phones_over: Bools
    emails: Ints
    emails_over: Bools
    uscc: Ints
    birthday: Ints
    birthday_chars: NDArray[np.uint32]
    birthday_len: Ints
    province: Ints
    city: Ints
    has_place: Bools
    address: Bools
    addresses: list[str]
    addresses_plain: list[str]  # without spaces
    address_spaced: Bools

    @classmethod
    def of(cls, profiles: Iterable[Profile]) -> "Columns":
        ordered = sorted(profiles, key=lambda p: p.id)
        syllables: dict[str, str] = {}
        orders, phones, emails, usccs, days, places = (_Codes() for _ in range(6))
        sounds, reorder, phone_codes, email_codes = [], [], [], []
        for p in ordered:
            sounds.append(
                "".join(syllables.setdefault(t, _code_point(len(syllables))) for t in p.tokens)
            )
            reorder.append(orders(tuple(sorted(p.tokens))) if p.kind == "person" else -1)
            phone_codes.append(sorted(map(phones, p.phones)))
            email_codes.append(sorted(map(emails, p.emails)))
        width = max((len(p.birthday) for p in ordered), default=0) or 1
        chars = np.zeros((len(ordered), width), dtype=np.uint32)
        for i, p in enumerate(ordered):
            for j, char in enumerate(p.birthday):
                chars[i, j] = ord(char)
        split = [p.place.split("|") if p.place else ["", ""] for p in ordered]
        phone_matrix, phones_over = _padded(phone_codes)
        email_matrix, emails_over = _padded(email_codes)
        person = np.array([p.kind == "person" for p in ordered], dtype=bool)
        return cls(
            profiles=ordered,
            ids=np.array([p.id for p in ordered], dtype=np.int64),
            person=person,
            weight=np.where(person, dedup.NAME_WEIGHT["person"], dedup.NAME_WEIGHT["organisation"]),
            keys=[p.key for p in ordered],
            sounds=sounds,
            has_key=np.array([bool(p.key) for p in ordered], dtype=bool),
            reorder=np.array(reorder, dtype=np.int64),
            phones=phone_matrix,
            phones_over=phones_over,
            emails=email_matrix,
            emails_over=emails_over,
            uscc=np.array([usccs(p.uscc) for p in ordered], dtype=np.int64),
            birthday=np.array([days(p.birthday) for p in ordered], dtype=np.int64),
            birthday_chars=chars,
            birthday_len=np.array([len(p.birthday) for p in ordered], dtype=np.int64),
            province=np.array([places(s[0]) for s in split], dtype=np.int64),
            city=np.array([places(s[1]) for s in split], dtype=np.int64),
            has_place=np.array([bool(p.place) for p in ordered], dtype=bool),
            address=np.array([bool(p.address) for p in ordered], dtype=bool),
            addresses=[p.address for p in ordered],
            addresses_plain=[p.address.replace(" ", "") for p in ordered],
            address_spaced=np.array([" " in p.address for p in ordered], dtype=bool),
        )

    def positions(self, ids: Sequence[int] | Ints) -> Ints:
        return np.searchsorted(self.ids, np.asarray(ids, dtype=np.int64))


def _shared(codes: Ints, over: Bools, a: Ints, b: Ints) -> Bools:
    left, right = codes[a], codes[b]
    same = (left[:, :, None] == right[:, None, :]) & (left[:, :, None] >= 0)
    shared: Bools = same.any(axis=(1, 2)) | over[a] | over[b]
    return shared


@dataclass(frozen=True)
class _Bounds:
    could: Bools  # dedup.could_match
    partial: Floats  # dedup._evidence_bound without the address
    address: Bools  # both have an address (the bound adds ADDRESS_WEIGHT)
    conflicts: Floats  # what may_reach takes off: birthdays and places that differ
    forced: Bools  # the same USCC
    excluded: Bools  # different USCCs (when the threshold is above what they leave)

    def __getitem__(self, keep: Bools) -> "_Bounds":
        return _Bounds(*(getattr(self, f)[keep] for f in _FIELDS))


_FIELDS = tuple(_Bounds.__dataclass_fields__)


def _bounds(cols: Columns, a: Ints, b: Ints, threshold: float) -> _Bounds:
    """The sums of could_match and may_reach for the pairs (a[k], b[k]), in the same
    order of floating-point operations."""
    same_kind = cols.person[a] == cols.person[b]
    ua, ub = cols.uscc[a], cols.uscc[b]
    both_uscc = (ua != 0) & (ub != 0)
    forced = same_kind & both_uscc & (ua == ub)
    excluded = both_uscc & (ua != ub) & (threshold > 0.3)
    days_a, days_b = cols.birthday[a], cols.birthday[b]
    both_days = (days_a != 0) & (days_b != 0)
    same_day = both_days & (days_a == days_b)
    typo = both_days & ~same_day & _birthday_typo(cols, a, b)
    partial = np.where(_shared(cols.phones, cols.phones_over, a, b), dedup.PHONE_WEIGHT, 0.0)
    partial = partial + np.where(
        _shared(cols.emails, cols.emails_over, a, b), dedup.EMAIL_WEIGHT, 0.0
    )
    partial = partial + np.where(
        same_day, dedup.BIRTHDAY_WEIGHT, np.where(typo, dedup.BIRTHDAY_WEIGHT / 2, 0.0)
    )
    address = cols.address[a] & cols.address[b]
    evidence = partial + np.where(address, dedup.ADDRESS_WEIGHT, 0.0)
    could = same_kind & (forced | (cols.weight[a] + evidence >= threshold))
    conflicts = np.where(both_days & ~same_day & ~typo, dedup.BIRTHDAY_CONFLICT, 0.0)
    conflicts = conflicts + np.where(_places_differ(cols, a, b), dedup.PLACE_CONFLICT, 0.0)
    return _Bounds(could, partial, address, conflicts, forced, excluded)


def _birthday_typo(cols: Columns, a: Ints, b: Ints) -> Bools:
    """dedup._birthday_typo: one character off, or an ISO date's month and day swapped."""
    left, right = cols.birthday_chars[a], cols.birthday_chars[b]
    same_len = cols.birthday_len[a] == cols.birthday_len[b]
    one_off = same_len & ((left != right).sum(axis=1) == 1)
    if left.shape[1] < 10:
        return np.asarray(one_off, dtype=bool)
    swapped: Bools = (
        same_len
        & (cols.birthday_len[a] == 10)
        & (left[:, :4] == right[:, :4]).all(axis=1)
        & (left[:, 5:7] == right[:, 8:10]).all(axis=1)
        & (left[:, 8:10] == right[:, 5:7]).all(axis=1)
    )
    return np.asarray(one_off | swapped, dtype=bool)


def _places_differ(cols: Columns, a: Ints, b: Ints) -> Bools:
    """dedup.places_differ."""
    both = cols.has_place[a] & cols.has_place[b]
    city_a, city_b = cols.city[a], cols.city[b]
    cities = (city_a != 0) & (city_b != 0) & (city_a != city_b)
    differ: Bools = both & ((cols.province[a] != cols.province[b]) | cities)
    return differ


@functools.cache
def _triangle(n: int) -> tuple[Ints, Ints]:
    upper = np.triu_indices(n, 1)
    return upper[0].astype(np.int64), upper[1].astype(np.int64)


def _matrix_similarity(cols: Columns, block: Ints, i: Ints, j: Ints) -> Floats:
    """dedup.name_similarity of the block's pairs (i[k], j[k]) (indexes into `block`)."""
    keys = [cols.keys[p] for p in block]
    sounds = [cols.sounds[p] for p in block]
    chars = process.cdist(keys, keys, scorer=fuzz.ratio, dtype=np.float64)[i, j]
    syllables = process.cdist(sounds, sounds, scorer=fuzz.ratio, dtype=np.float64)[i, j]
    a, b = block[i], block[j]
    return _combine(cols, a, b, chars, syllables)


def _pair_similarity(cols: Columns, a: Ints, b: Ints) -> Floats:
    keys, sounds = cols.keys, cols.sounds
    chars = np.array([fuzz.ratio(keys[x], keys[y]) for x, y in zip(a, b, strict=True)])
    syllables = np.array([fuzz.ratio(sounds[x], sounds[y]) for x, y in zip(a, b, strict=True)])
    return _combine(cols, a, b, chars.astype(np.float64), syllables.astype(np.float64))


def _combine(cols: Columns, a: Ints, b: Ints, chars: Floats, syllables: Floats) -> Floats:
    reordered = cols.person[a] & (cols.reorder[a] == cols.reorder[b])
    best = np.maximum(np.maximum(chars, syllables * 0.95), np.where(reordered, 95.0, 0.0))
    return np.where(cols.has_key[a] & cols.has_key[b], best / 100, 0.0)


@dataclass
class _Passed:
    """The pairs that could_match lets through, with what the bound knows of each."""

    a: list[Ints] = field(default_factory=list)
    b: list[Ints] = field(default_factory=list)
    base: list[Floats] = field(default_factory=list)  # may_reach's bound, no address
    address: list[Bools] = field(default_factory=list)
    sure: list[Bools] = field(default_factory=list)  # the same USCC
    excluded: list[Bools] = field(default_factory=list)  # different USCCs

    def add(self, cols: Columns, a: Ints, b: Ints, bounds: _Bounds, similarity: Floats) -> None:
        self.a.append(a)
        self.b.append(b)
        self.base.append(cols.weight[a] * similarity + bounds.partial - bounds.conflicts)
        self.address.append(bounds.address)
        self.sure.append(bounds.forced)
        self.excluded.append(bounds.excluded)


def score_blocks(
    cols: Columns, blocks: Iterable[Sequence[int]], *, threshold: float = dedup.CANDIDATE_SCORE
) -> tuple[list[Match], int]:
    """The matches among the pairs that share one of the blocks (lists of profile ids),
    each pair once, and how many pairs could_match let through (the pairs compared)."""
    n = len(cols.ids)
    passed = _Passed()
    small: list[Ints] = []
    for block in _as_positions(cols, blocks):
        if len(block) < MATRIX_MIN:
            small.append(block)
            continue
        i, j = _triangle(len(block))
        a, b = block[i], block[j]
        bounds = _bounds(cols, a, b, threshold)
        keep = bounds.could
        if not keep.any():
            continue
        i, j = i[keep], j[keep]
        passed.add(cols, a[keep], b[keep], bounds[keep], _matrix_similarity(cols, block, i, j))
    if small:
        a, b = _small_pairs(small)
        bounds = _bounds(cols, a, b, threshold)
        keep = bounds.could
        a, b = a[keep], b[keep]
        passed.add(cols, a, b, bounds[keep], _pair_similarity(cols, a, b))
    if not passed.a:
        return [], 0
    a, b = np.concatenate(passed.a), np.concatenate(passed.b)
    codes = a * n + b
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    first = np.ones(len(codes), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    once = order[first]  # each pair once
    a, b = a[once], b[once]
    base = np.concatenate(passed.base)[once]
    address = np.concatenate(passed.address)[once]
    sure = np.concatenate(passed.sure)[once]
    reach = ~np.concatenate(passed.excluded)[once]
    reach &= sure | _with_addresses(cols, a, b, base, address, threshold)
    return _exact(cols, a[reach], b[reach], threshold), int(first.sum())


def _with_addresses(
    cols: Columns, a: Ints, b: Ints, base: Floats, address: Bools, threshold: float
) -> Bools:
    """may_reach with the addresses' similarity bounded from above (their characters
    and, for Latin addresses, their words; a house number that differs only lowers it)
    instead of taken as identical."""
    cut = threshold - _REACH - _SLACK
    reach = base >= cut
    need = ~reach & address & (base + dedup.ADDRESS_WEIGHT >= cut)
    if need.any():
        x, y = a[need], b[need]
        plain = [cols.addresses_plain[p] for p in x], [cols.addresses_plain[p] for p in y]
        chars = process.cpdist(*plain, scorer=fuzz.ratio, dtype=np.float64)
        spaced = cols.address_spaced[x] | cols.address_spaced[y]
        if spaced.any():
            words = process.cpdist(
                [cols.addresses[p] for p in x[spaced]],
                [cols.addresses[p] for p in y[spaced]],
                scorer=fuzz.token_sort_ratio,
                dtype=np.float64,
            )
            chars[spaced] = np.maximum(chars[spaced], words)
        alike = chars / 100
        term = np.where(alike >= dedup.ADDRESS_FLOOR - _SLACK, dedup.ADDRESS_WEIGHT * alike, 0.0)
        reach[need] = base[need] + term >= cut
    return reach


def _as_positions(cols: Columns, blocks: Iterable[Sequence[int]]) -> list[Ints]:
    """Each block's ids as the profiles' positions, sorted."""
    blocks = list(blocks)
    sizes = np.fromiter(map(len, blocks), dtype=np.int64, count=len(blocks))
    ids = np.fromiter(itertools.chain.from_iterable(blocks), dtype=np.int64, count=sizes.sum())
    positions = cols.positions(ids)
    ends = np.cumsum(sizes)
    return [np.sort(positions[end - size : end]) for end, size in zip(ends, sizes, strict=True)]


def _small_pairs(blocks: list[Ints]) -> tuple[Ints, Ints]:
    """Every pair (a < b) of each small block, the blocks' sorted positions."""
    firsts: list[Ints] = []
    seconds: list[Ints] = []
    by_size: dict[int, list[Ints]] = {}
    for block in blocks:
        by_size.setdefault(len(block), []).append(block)
    for size, group in by_size.items():
        matrix = np.stack(group)
        i, j = _triangle(size)
        firsts.append(matrix[:, i].ravel())
        seconds.append(matrix[:, j].ravel())
    return np.concatenate(firsts), np.concatenate(seconds)


def _exact(cols: Columns, a: Ints, b: Ints, threshold: float) -> list[Match]:
    """score_pair for the pairs that passed the bounds (as the scan scored every pair
    before: the names first, may_reach, then the whole score)."""
    matches = []
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        pa, pb = cols.profiles[x], cols.profiles[y]
        similarity = dedup.name_similarity(pa, pb)
        if not dedup.may_reach(pa, pb, similarity, threshold):
            continue
        match = dedup.score_pair(pa, pb, similarity=similarity)
        if match.score >= threshold:
            matches.append(match)
    return matches
