"""The English catalogue is complete, compiled, and used.

The msgids are the Chinese texts, so a string missing from the English catalogue shows
up in Chinese on an English page. These tests fail when a new string is not in the
catalogue, when an entry is left empty or fuzzy, or when the committed .mo is stale.
"""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from conftest import login
from kehu.tenancy.models import User

KEHU = Path(__file__).resolve().parents[2]
LC_MESSAGES = KEHU / "locale" / "en" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Chinese punctuation too: an English text with "，" or "：" was not really translated.
CHINESE_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# English msgstrs that may keep Chinese text on purpose (none today).
CHINESE_ALLOWED: set[str] = set()
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\{.*?\}\}|<[^<>]+>")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def _unquote(quoted: str) -> str:
    value = ast.literal_eval(quoted.strip())
    assert isinstance(value, str)
    return value


def parse_po(path: Path) -> list[Entry]:
    """The live entries of a .po file (the header and obsolete `#~` entries left out).

    An entry starts at a comment or a msgctxt/msgid that follows a msgstr: makemessages
    writes no blank line after the header, so blank lines alone cannot be trusted.
    """
    entries: list[Entry] = []
    current: Entry | None = None
    seen_msgstr = False
    last: tuple[str, int | None] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if current is None or seen_msgstr:
                current, seen_msgstr, last = Entry(line=number), False, None
                entries.append(current)
            if line.startswith("#,"):
                current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        match = _KEYWORD.match(line)
        if match is None:
            assert current is not None and last is not None, f"{path}:{number}: {line}"
            _append(current, last, _unquote(line))
            continue
        keyword, index, quoted = match.groups()
        if current is None or (seen_msgstr and keyword in ("msgctxt", "msgid")):
            current, seen_msgstr = Entry(line=number), False
            entries.append(current)
        if keyword.startswith("msgstr"):
            seen_msgstr = True
            last = ("msgstr", int(index) if index is not None else 0)
        else:
            last = (keyword, None)
        _append(current, last, _unquote(quoted))
    return [entry for entry in entries if entry.msgid]


def _append(entry: Entry, key: tuple[str, int | None], text: str) -> None:
    name, index = key
    if name == "msgstr":
        assert index is not None
        entry.msgstr[index] = entry.msgstr.get(index, "") + text
    elif name == "msgid":
        entry.msgid += text
    elif name == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + text
    else:
        entry.msgctxt = (entry.msgctxt or "") + text


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    parsed = parse_po(PO)
    assert len(parsed) > 100, f"{PO} looks truncated: {len(parsed)} entries"
    return parsed


def _where(entry: Entry) -> str:
    return f"{PO.name}:{entry.line} {entry.msgid!r}"


def test_no_entry_is_empty_or_fuzzy(entries: list[Entry]) -> None:
    fuzzy = [_where(e) for e in entries if "fuzzy" in e.flags]
    empty = [
        _where(e)
        for e in entries
        if not e.msgstr
        or any(not text for text in e.msgstr.values())
        or (e.msgid_plural is not None and len(e.msgstr) < 2)
    ]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    assert not empty, "untranslated entries:\n" + "\n".join(empty)
    header = PO.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "fuzzy" not in header, "the header is still marked fuzzy"


def test_translations_are_english_and_keep_placeholders(entries: list[Entry]) -> None:
    chinese = [
        _where(e)
        for e in entries
        for text in e.msgstr.values()
        if CHINESE_TEXT.search(text) and text not in CHINESE_ALLOWED
    ]
    assert not chinese, "English entries still containing Chinese:\n" + "\n".join(chinese)
    broken = []
    for e in entries:
        allowed = [sorted(PLACEHOLDER.findall(e.msgid))]
        if e.msgid_plural is not None:
            allowed.append(sorted(PLACEHOLDER.findall(e.msgid_plural)))
        broken += [
            f"{_where(e)} → {text!r}"
            for text in e.msgstr.values()
            if sorted(PLACEHOLDER.findall(text)) not in allowed
        ]
    assert not broken, "placeholders or tags changed:\n" + "\n".join(broken)


def test_committed_mo_matches_po(entries: list[Entry]) -> None:
    assert MO.exists(), f"{MO} is missing: run `manage.py compilemessages`"
    with MO.open("rb") as fp:
        catalogue = gettext.GNUTranslations(fp)
    stale = []
    for e in entries:
        if e.msgid_plural is not None:
            got = [
                catalogue.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n)
                if e.msgctxt is not None
                else catalogue.ngettext(e.msgid, e.msgid_plural, n)
                for n in (1, 2)
            ]
            want = [e.msgstr.get(0), e.msgstr.get(1)]
        else:
            got = [
                catalogue.pgettext(e.msgctxt, e.msgid)
                if e.msgctxt is not None
                else catalogue.gettext(e.msgid)
            ]
            want = [e.msgstr.get(0)]
        if got != want:
            stale.append(f"{_where(e)}: .mo has {got!r}, .po has {want!r}")
    assert not stale, (
        "django.mo is out of date; run `manage.py compilemessages --ignore=.venv`:\n"
        + "\n".join(stale)
    )


_STRING = r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_CALL = re.compile(r"(?<![\w.])(?:_|gettext|gettext_lazy)\(\s*" + _STRING + r"\s*[,)]")
_TAG = re.compile(r"\{%\s*(?:translate|trans)\s+" + _STRING)


def _literal(quoted: str, *, python: bool) -> str:
    if python:
        return _unquote(quoted)
    return quoted[1:-1]  # the template engine does not process escapes in this literal


def _source_files() -> list[Path]:
    files = []
    for pattern in ("*.py", "*.html"):
        for path in KEHU.rglob(pattern):
            parts = path.relative_to(KEHU).parts
            if "tests" in parts or "migrations" in parts or "static" in parts:
                continue
            files.append(path)
    return sorted(files)


def used_msgids() -> dict[str, str]:
    """Chinese literals marked for translation in code and templates → first place seen."""
    found: dict[str, str] = {}
    for path in _source_files():
        python = path.suffix == ".py"
        text = path.read_text(encoding="utf-8")
        patterns = [_CALL] if python else [_CALL, _TAG]
        for pattern in patterns:
            for match in pattern.finditer(text):
                msgid = _literal(match.group(1), python=python)
                if CJK.search(msgid):
                    line = text.count("\n", 0, match.start()) + 1
                    found.setdefault(msgid, f"{path.relative_to(KEHU.parent)}:{line}")
    return found


def test_every_msgid_in_the_code_is_in_the_catalogue(entries: list[Entry]) -> None:
    used = used_msgids()
    assert len(used) > 100, "the scanner found too few strings; is the pattern broken?"
    known = {e.msgid for e in entries}
    # makemessages doubles a "%" in template strings that are not python-format.
    missing = sorted(
        f"{where}: {msgid!r}"
        for msgid, where in used.items()
        if msgid not in known and msgid.replace("%", "%%") not in known
    )
    assert not missing, (
        "strings missing from the English catalogue; run makemessages -l en, translate "
        "them, then compilemessages:\n" + "\n".join(missing)
    )


def _nav(html: str) -> str:
    match = re.search(r'<header class="topbar">.*?<nav\b[^>]*>(.*?)</nav>', html, re.S)
    assert match, "no main navigation on the page"
    return match.group(1)


def test_english_page_is_english(alice: User) -> None:
    client = login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/customers/")
    assert response.status_code == 200
    html = response.content.decode()
    nav = _nav(html)
    assert '<html lang="en">' in html
    for word in ("Customer", "My tasks", "Settings", "API tokens"):
        assert word in nav, f"{word!r} not in the English nav: {nav}"
    assert "客户" not in nav
    assert not CJK.search(nav), f"Chinese left in the English nav: {nav}"
    assert "Log out" in html


def test_page_without_language_cookie_is_chinese(alice: User) -> None:
    response = login(alice).get("/customers/")
    assert response.status_code == 200
    html = response.content.decode()
    nav = _nav(html)
    assert '<html lang="zh-hans">' in html
    assert "客户" in nav
    assert "我的任务" in nav
    assert "My tasks" not in nav
