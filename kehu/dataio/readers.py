"""Reading an uploaded file as a header row and a stream of rows of text.

CSV: the encoding is detected, not asked. A sample (the first 64 KiB) is tried as strict
UTF-8 — with or without a BOM — and, failing that, as GB18030, the superset of GBK and
GB2312 that every Chinese Excel writes. That is the whole real-world set for these files,
and the test is exact: GBK text is almost never valid UTF-8, so no statistics are needed
(charset-normalizer guesses, can take a short Chinese file for Big5 or cp1252, and reads
the sample several times). A UTF-16 BOM (Excel's "Unicode text") is honoured too. The
delimiter (comma, semicolon, tab, |) is sniffed from the same sample.

XLSX and XLS: python-calamine (Rust), which reads both formats, fast; numbers that are
whole come back without ".0" (a mobile stored as a number), dates as ISO text.

vCard: 2.1, 3.0 and 4.0 as phones export them, QUOTED-PRINTABLE names included; each
card becomes one row of the columns `VCARD_HEADERS`.
"""

import codecs
import csv
import datetime
import io
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SAMPLE_BYTES = 64 * 1024
FORMATS = ("csv", "xlsx", "xls", "vcf")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}
EXTENSIONS |= {".vcf": "vcf", ".vcard": "vcf"}


@dataclass
class Table:
    """The header row and, lazily, the data rows (each a list of cell texts)."""

    headers: list[str]
    rows: Iterator[list[str]]
    encoding: str = ""
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in self.closers:
            closer.close()


def format_of(file_name: str) -> str:
    fmt = EXTENSIONS.get(Path(file_name).suffix.lower())
    if fmt is None:
        raise ValidationError(
            _("不支持的文件类型：%(name)s（支持 CSV、XLSX、XLS、vCard）") % {"name": file_name}
        )
    return fmt


def open_table(path: Path, fmt: str) -> Table:
    """The file at `path` as a Table; ValidationError when it cannot be read."""
    readers = {"csv": _read_csv, "xlsx": _read_excel, "xls": _read_excel, "vcf": _read_vcard}
    try:
        return readers[fmt](path)
    except (UnicodeDecodeError, csv.Error, ValueError, OSError) as exc:
        raise ValidationError(_("无法读取文件：%(error)s") % {"error": exc}) from exc


# CSV


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # The sample may end inside a character: an incremental decoder leaves it pending.
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path) -> Table:
    binary = path.open("rb")
    encoding = detect_encoding(binary.read(SAMPLE_BYTES))
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    sample = text.read(SAMPLE_BYTES // 4)
    text.seek(0)
    reader = csv.reader(text, delimiter=sniff_delimiter(sample))
    headers = next(reader, [])
    return Table(_tidy(headers), _decoded_rows(reader), encoding, [text])


def _decoded_rows(reader: Any) -> Iterator[list[str]]:
    try:
        yield from reader
    except UnicodeDecodeError as exc:
        # A file that is GB18030 at the start and something else later: say where.
        raise ValidationError(
            _("第 %(row)s 行附近的字符无法按 %(encoding)s 解码。")
            % {"row": reader.line_num + 1, "encoding": exc.encoding}
        ) from exc


def _tidy(headers: list[str]) -> list[str]:
    return [h.strip().lstrip("\ufeff") for h in headers]


# Excel


def _read_excel(path: Path) -> Table:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    sheet = workbook.get_sheet_by_index(0)
    rows = (list(map(cell_text, row)) for row in sheet.iter_rows())
    headers = next(rows, [])
    return Table(_tidy(headers), rows, "", [workbook])


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person sees in it."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)


# vCard

VCARD_HEADERS = ["姓名", "公司", "部门", "职位", "手机", "电话", "邮箱", "地址", "网站", "备注"]
_VCARD_TYPES = {"FN": "姓名", "TITLE": "职位", "NOTE": "备注", "URL": "网站"}
_LINE = re.compile(r"^(?:item\d+\.)?([A-Za-z-]+)((?:;[^:]*)?):(.*)$")


def _read_vcard(path: Path) -> Table:
    raw = path.read_bytes()
    text = raw.decode(detect_encoding(raw[:SAMPLE_BYTES]))
    return Table(list(VCARD_HEADERS), (_card_row(card) for card in _cards(text)), "utf-8")


def _unfolded(text: str) -> Iterator[str]:
    """Logical lines: a line starting with a space continues the last (RFC 6350 §3.2);
    a QUOTED-PRINTABLE line ending in '=' continues on the next (vCard 2.1)."""
    pending = ""
    for line in text.splitlines():
        if line[:1] in {" ", "\t"} and pending:
            pending += line[1:]
            continue
        if pending.endswith("=") and "QUOTED-PRINTABLE" in pending.upper().split(":", 1)[0]:
            pending = pending[:-1] + line
            continue
        if pending:
            yield pending
        pending = line
    if pending:
        yield pending


def _cards(text: str) -> Iterator[list[tuple[str, dict[str, str], str]]]:
    card: list[tuple[str, dict[str, str], str]] | None = None
    for line in _unfolded(text):
        match = _LINE.match(line)
        if not match:
            continue
        name, params, value = match.group(1).upper(), _params(match.group(2)), match.group(3)
        if name == "BEGIN":
            card = []
        elif name == "END" and card is not None:
            yield card
            card = None
        elif card is not None:
            card.append((name, params, _value(value, params)))


def _params(text: str) -> dict[str, str]:
    """;TYPE=CELL;CHARSET=UTF-8 (and 2.1's bare ;CELL;VOICE) → {"TYPE": "CELL,VOICE", …}."""
    out: dict[str, str] = {}
    for part in filter(None, text.split(";")):
        key, _sep, value = part.partition("=")
        if not _sep:
            key, value = "TYPE", key
        key = key.upper()
        out[key] = ",".join(filter(None, (out.get(key, ""), value.upper().strip('"'))))
    return out


def _value(value: str, params: dict[str, str]) -> str:
    charset = params.get("CHARSET", "UTF-8")
    if params.get("ENCODING") == "QUOTED-PRINTABLE":
        return quopri.decodestring(value.encode("ascii", "replace")).decode(charset, "replace")
    return value.replace("\\,", ",").replace("\\;", ";").replace("\\n", "\n").replace("\\N", "\n")


def _card_row(card: list[tuple[str, dict[str, str], str]]) -> list[str]:
    cells: dict[str, list[str]] = {h: [] for h in VCARD_HEADERS}
    for name, params, value in card:
        _card_field(cells, name, params.get("TYPE", ""), value.strip())
    if not cells["姓名"]:
        cells["姓名"] = cells.pop("_n", [])
    return [
        " ".join(cells[h]) if h in {"姓名", "公司"} else "；".join(cells[h]) for h in VCARD_HEADERS
    ]


def _card_field(cells: dict[str, list[str]], name: str, types: str, value: str) -> None:
    if not value:
        return
    if name in _VCARD_TYPES:
        cells[_VCARD_TYPES[name]].append(value)
    elif name == "N":
        # family;given;middle;prefix;suffix — Chinese names read family first, no space.
        family, given = ([*value.split(";"), "", ""])[:2]
        cells.setdefault("_n", []).append(family + given)
    elif name == "ORG":
        company, *units = value.split(";")
        cells["公司"].append(company)
        cells["部门"].extend(u for u in units if u)
    elif name == "TEL":
        kind = "手机" if {"CELL", "MOBILE", "IPHONE"} & set(types.split(",")) else "电话"
        cells[kind].append(value.removeprefix("tel:"))
    elif name == "EMAIL":
        cells["邮箱"].append(value)
    elif name == "ADR":
        # PO box; extended; street; locality; region; postcode; country
        _box, _ext, street, city, region, _post, country = (value.split(";") + [""] * 7)[:7]
        if _is_chinese(value):
            cells["地址"].append(region + city + street)
        else:
            cells["地址"].append(", ".join(p for p in (street, city, region, country) if p))


def _is_chinese(value: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in value)
