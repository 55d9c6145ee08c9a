"""Rows to CSV or XLSX bytes, streamed, every cell safe from formula injection.

One place for what a cell becomes in a file, used by the list exports and the reports'
CSV. Text that starts with = + - @, a tab, CR or NUL is a formula to a spreadsheet (CSV
injection: `=HYPERLINK(...)` in a customer's name): it gets a leading '. Numbers stay
numbers: a negative amount is not a formula, and quoting it would turn it into text
(XLSX writes it as a number cell; CSV as the plain figure, which Excel reads as a number).
Dates and times are written as dates (XLSX) or ISO text in the firm's time zone (CSV).

CSV is UTF-8 with a BOM, so that Excel opens Chinese text correctly. XLSX is written by
XlsxWriter in `constant_memory` mode (one row in memory at a time) to a temporary file,
which is then streamed: an XLSX file is a zip and cannot be sent before it is finished.
"""

import csv
import datetime
import decimal
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import xlsxwriter
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


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The CSV file, UTF-8 with a BOM, in chunks of about CHUNK bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([safe_cell(h) for h in headers])
    text = _TextCells().text
    for row in rows:
        writer.writerow([text(c) for c in row])
        if buffer.tell() >= CHUNK:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


class _Sheets:
    """The workbook's sheets and formats; a new sheet when one is full."""

    def __init__(self, book: xlsxwriter.Workbook, headers: Sequence[str], title: str):
        self.book = book
        self.headers = [safe_cell(h) for h in headers]
        self.title = title[:25] or "export"
        self.bold = book.add_format({"bold": True})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.text = _TextCells().text
        self.count = 0
        self.sheet = self._add()
        self.row = 1

    def _add(self) -> Any:
        self.count += 1
        name = self.title if self.count == 1 else f"{self.title} {self.count}"
        sheet = self.book.add_worksheet(name)
        sheet.write_row(0, 0, self.headers, self.bold)
        sheet.freeze_panes(1, 0)
        return sheet

    def write(self, cells: Sequence[Cell]) -> None:
        if self.row == XLSX_SHEET_ROWS:
            self.sheet, self.row = self._add(), 1
        write = self.sheet
        r = self.row
        for c, value in enumerate(cells):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                write.write_string(r, c, safe_cell(value))
            elif isinstance(value, bool):
                write.write_string(r, c, self.text(value))
            elif isinstance(value, int | float | decimal.Decimal):
                write.write_number(r, c, float(value))
            elif isinstance(value, datetime.datetime):
                local = timezone.localtime(value).replace(tzinfo=None)
                write.write_datetime(r, c, local, self.moment)
            else:
                write.write_datetime(r, c, value, self.date)
        self.row += 1


def xlsx_chunks(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str
) -> Iterator[bytes]:
    """The XLSX file: every row written to a temporary file in constant memory, then the
    file in chunks. Text is always written as text (never read as a formula, number or
    link), and neutralised as in CSV, so that a copy saved as CSV is safe too."""
    with tempfile.TemporaryFile(suffix=".xlsx") as file:
        options = {"constant_memory": True, "strings_to_numbers": False}
        options |= {"strings_to_formulas": False, "strings_to_urls": False}
        book = xlsxwriter.Workbook(file, options)
        sheets = _Sheets(book, headers, title)
        for row in rows:
            sheets.write(row)
        book.close()
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk
