"""Rows to CSV or XLSX bytes, streamed, every cell safe from formula injection.

One place for what a cell becomes in a file, used by the list exports and the reports'
CSV. Text that starts with = + - @, a tab, CR or NUL is a formula to a spreadsheet (CSV
injection: `=HYPERLINK(...)` in a customer's name): it gets a leading '. Numbers stay
numbers: a negative amount is not a formula, and quoting it would turn it into text
(XLSX writes it as a number cell; CSV as the plain figure, which Excel reads as a number).
Dates and times are written as dates (XLSX) or ISO text in the firm's time zone (CSV).

CSV is UTF-8 with a BOM, so that Excel opens Chinese text correctly. XLSX is written here,
part by part, into a zip made as it goes (`zipfile` on a sink that cannot seek writes
each entry's sizes after its data): the sheet's XML is made row by row, with inline
strings (no shared-string table to hold in memory), and the bytes go out in chunks of
about CHUNK as the rows come — the first chunk long before the last row is read, and
memory flat. The workbook, its relations and the content types are written last, when
the number of sheets is known (a sheet holds at most XLSX_SHEET_ROWS rows).
"""

import csv
import datetime
import decimal
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.dataio.selectors import FORMULA_STARTS, safe_cell

BOM = "\ufeff"
# Bytes handed to the server at a time: large enough that a million rows are a few
# thousand chunks, small enough that memory stays flat.
CHUNK = 64 * 1024
# An XLSX sheet holds at most 1,048,576 rows; past it the rows go on to a new sheet.
XLSX_SHEET_ROWS = 1_048_576

Cell = str | int | float | decimal.Decimal | datetime.date | bool | None


def text_cell(value: Cell) -> str:
    """A cell as CSV text: safe text, plain figures, ISO dates in the firm's time zone."""
    return _TextCells().text(value)


class _TextCells:
    """`text_cell`, with what it needs looked up once per file rather than per cell (the
    translated yes/no, the time zone): a million rows are fifteen million cells."""

    def __init__(self) -> None:
        self.yes, self.no = _("是"), _("否")
        self.zone = timezone.get_current_timezone()

    def text(self, value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return "'" + value if value.startswith(FORMULA_STARTS) else value
        if isinstance(value, bool):
            return self.yes if value else self.no
        if isinstance(value, datetime.datetime):
            return str(value.astimezone(self.zone).replace(tzinfo=None, microsecond=0))
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)


_CSV_PLAIN = frozenset({int, float, decimal.Decimal, type(None)})


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The CSV file, UTF-8 with a BOM, in chunks of about CHUNK bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([safe_cell(h) for h in headers])
    text = _TextCells().text
    plain = _CSV_PLAIN
    for row in rows:
        # Inline for text (most cells); csv.writer itself writes None, ints, floats and
        # decimals as text_cell would.
        writer.writerow(
            [
                ("'" + c if c.startswith(FORMULA_STARTS) else c)
                if type(c) is str
                else (c if type(c) in plain else text(c))
                for c in row
            ]
        )
        if buffer.tell() >= CHUNK:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


class _Sink:
    """Where the zip writes: bytes kept until they are taken. It has no `tell` or `seek`,
    so `zipfile` streams (data descriptors after each entry)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


# Characters XML 1.0 does not allow (every C0 control but tab, newline and CR, and the
# two non-characters), and the ones that must be escaped; CR as a reference so that it
# is kept (a parser turns a literal CR into a newline).
_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_TABLE: dict[int, str | None] = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord("\r"): "&#13;",
}
_XML_TABLE |= dict.fromkeys([*range(9), 11, 12, *range(14, 32), 65534, 65535])
_XML_TABLE |= dict.fromkeys(range(55296, 57344))  # lone surrogates


def xml_text(value: str) -> str:
    """Text safe inside an XML element: escaped, and without what XML cannot hold."""
    return value.translate(_XML_TABLE) if _XML_SPECIAL.search(value) else value


# Days from Excel's day 0 (1899-12-30, the 1900 date system) to 1970-01-01.
_EPOCH = datetime.date(1899, 12, 30)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/>{cols}<sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
# Cell styles (xl/styles.xml's cellXfs): 0 plain, 1 bold (the header), 2 date, 3 date-time.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
    f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)


class _XlsxCells:
    """Cells as sheet XML, chosen by the value's type (looked up once per cell)."""

    def __init__(self) -> None:
        self.text = _TextCells().text
        self.zone = timezone.get_current_timezone()
        self.by_type: dict[type, Callable[[Any], str]] = {
            str: self.string,
            bool: lambda v: self.string(self.text(v)),
            int: self.number,
            float: self.number,
            decimal.Decimal: self.number,
            datetime.date: self.date,
            datetime.datetime: self.moment,
            type(None): lambda v: "<c/>",
        }

    @staticmethod
    def string(value: str) -> str:
        if not value:
            return "<c/>"
        if value.startswith(FORMULA_STARTS):
            value = "'" + value
        return f'<c t="inlineStr"><is><t xml:space="preserve">{xml_text(value)}</t></is></c>'

    @staticmethod
    def number(value: float | decimal.Decimal) -> str:
        return f"<c><v>{value}</v></c>"

    @staticmethod
    def date(value: datetime.date) -> str:
        return f'<c s="2"><v>{(value - _EPOCH).days}</v></c>'

    def moment(self, value: datetime.datetime) -> str:
        local = value.astimezone(self.zone) if value.tzinfo else value
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        serial = (local.date() - _EPOCH).days + seconds / 86400
        return f'<c s="3"><v>{serial}</v></c>'

    def row(self, values: Sequence[Cell]) -> str:
        by_type = self.by_type
        cells = [(by_type.get(type(v)) or self.other)(v) for v in values]
        return "<row>" + "".join(cells) + "</row>"

    def other(self, value: Any) -> str:
        """A value of a type not listed (a subclass): the first listed type it is."""
        for kind in (bool, str, int, float, decimal.Decimal, datetime.datetime, datetime.date):
            if isinstance(value, kind):
                return self.by_type[kind](value)
        return self.string(str(value))


def _columns(headers: Sequence[str]) -> str:
    """Column widths from the headers (CJK characters count double), at least 10."""
    widths = [max(10, min(60, sum(2 if ord(ch) > 0x2E80 else 1 for ch in h) + 2)) for h in headers]
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, 1)
    )
    return f"<cols>{cols}</cols>" if cols else ""


def _sheet_names(title: str, count: int) -> list[str]:
    """Sheet names: the title (at most 31 characters, without what Excel refuses), then
    "title 2", "title 3" …"""
    base = re.sub(r"[\\/?*\[\]:]", " ", title)[:25].strip("' ") or "export"
    return [base if n == 1 else f"{base} {n}" for n in range(1, count + 1)]


def _workbook_parts(names: list[str]) -> list[tuple[str, str]]:
    sheets = "".join(
        f'<sheet name={quoteattr(xml_text(name))} sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, 1)
    )
    book = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(names) + 1)
    )
    styles = len(names) + 1
    rels += f'<Relationship Id="rId{styles}" Type="{_REL}/styles" Target="styles.xml"/>'
    book_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">{rels}</Relationships>'
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        f"{overrides}</Types>"
    )
    return [
        ("xl/workbook.xml", book),
        ("xl/_rels/workbook.xml.rels", book_rels),
        ("xl/styles.xml", _STYLES),
        ("_rels/.rels", _ROOT_RELS),
        ("[Content_Types].xml", types),
    ]


def xlsx_chunks(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str
) -> Iterator[bytes]:
    """The XLSX file in chunks of about CHUNK bytes, sent as the rows are read. Text is
    always written as text (an inline string: never read as a formula, number or link),
    and neutralised as in CSV, so that a copy saved as CSV is safe too; numbers are
    number cells, dates and times date cells (times in the firm's time zone)."""
    sink = _Sink()
    cells = _XlsxCells()
    header_xml = (
        "<row>"
        + "".join(
            f'<c t="inlineStr" s="1"><is><t xml:space="preserve">{xml_text(safe_cell(h))}'
            "</t></is></c>"
            for h in headers
        )
        + "</row>"
    )
    head = _SHEET_HEAD.format(cols=_columns(headers))
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    count = 0
    row = XLSX_SHEET_ROWS  # full: the first row opens the first sheet
    sheet: Any = None
    pending: list[str] = []
    with archive:
        for values in rows:
            if row == XLSX_SHEET_ROWS:
                if sheet is not None:
                    sheet.write("".join(pending).encode() + _SHEET_TAIL.encode())
                    pending = []
                    sheet.close()
                count += 1
                sheet = archive.open(f"xl/worksheets/sheet{count}.xml", "w", force_zip64=True)
                sheet.write((head + header_xml).encode())
                row = 1
            pending.append(cells.row(values))
            row += 1
            if len(pending) >= 256:
                sheet.write("".join(pending).encode())
                pending = []
                if sink.size >= CHUNK:
                    yield sink.take()
        if sheet is None:  # no rows: the header alone
            count = 1
            sheet = archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
            sheet.write((head + header_xml).encode())
        sheet.write("".join(pending).encode() + _SHEET_TAIL.encode())
        sheet.close()
        for name, text in _workbook_parts(_sheet_names(title, count)):
            archive.writestr(name, text)
    yield sink.take()
