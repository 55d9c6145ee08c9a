"""Each format and encoding a customer list arrives in, read back as the same rows."""

import codecs
import datetime
from pathlib import Path

import pytest
import xlsxwriter
import xlwt
from django.core.exceptions import ValidationError

from kehu.dataio import readers

HEADER = ["客户名称", "联系人", "手机"]
ROWS = [["深圳腾飞科技有限公司", "张伟", "13812345678"], ["杭州云帆贸易", "李娜", "13912345678"]]


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _read(path: Path, fmt: str) -> tuple[list[str], list[list[str]], str]:
    table = readers.open_table(path, fmt)
    try:
        return table.headers, list(table.rows), table.encoding
    finally:
        table.close()


def _csv(delimiter: str = ",") -> str:
    return "\r\n".join(delimiter.join(r) for r in [HEADER, *ROWS]) + "\r\n"


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (_csv().encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + _csv().encode("utf-8"), "utf-8-sig"),
        (_csv().encode("gbk"), "gb18030"),
        (_csv().encode("gb18030"), "gb18030"),
        (_csv("\t").encode("utf-16"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030", "utf-16-tab"],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoded: bytes, encoding: str) -> None:
    headers, rows, found = _read(_write(tmp_path, "a.csv", encoded), "csv")
    assert (headers, rows, found) == (HEADER, ROWS, encoding)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    headers, rows, _enc = _read(_write(tmp_path, "a.csv", _csv(delimiter).encode()), "csv")
    assert (headers, rows) == (HEADER, ROWS)


def test_a_utf8_sample_cut_inside_a_character_is_still_utf8() -> None:
    text = ("客" * (readers.SAMPLE_BYTES // 3 + 1)).encode()
    assert readers.detect_encoding(text[: readers.SAMPLE_BYTES]) == "utf-8"


def test_a_file_that_changes_encoding_later_says_where(tmp_path: Path) -> None:
    good = "名称\n" + "甲公司\n" * 30000
    path = _write(tmp_path, "a.csv", good.encode() + "乙公司\n".encode("gbk"))
    table = readers.open_table(path, "csv")
    with pytest.raises(ValidationError, match="无法按 utf-8 解码"):
        list(table.rows)
    table.close()


def test_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, [*HEADER, "成立日期"])
    sheet.write_row(1, 0, [ROWS[0][0], ROWS[0][1], 13812345678])  # a mobile stored as a number
    sheet.write_datetime(
        1, 3, datetime.datetime(2024, 3, 5), book.add_format({"num_format": "yyyy-mm-dd"})
    )
    sheet.write_row(2, 0, ROWS[1])
    book.close()
    headers, rows, _enc = _read(path, "xlsx")
    assert headers == [*HEADER, "成立日期"]
    assert rows[0] == [*ROWS[0], "2024-03-05"]
    assert rows[1][:3] == ROWS[1]


def test_xls(tmp_path: Path) -> None:
    path = tmp_path / "a.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("客户")
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            sheet.write(r, c, float(value) if value.isdigit() else value)
    book.save(str(path))
    assert _read(path, "xls")[:2] == (HEADER, ROWS)


VCARD_21 = """BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;=E4=BC=9F;;;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0=E4=BC=9F
TEL;CELL:138-1234-5678
TEL;CELL;PREF:139 1234 5678
TEL;WORK:0755-12345678
EMAIL;INTERNET:zw@tengfei.cn
ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E8=85=BE=E9=A3=9E=E7=A7=91=E6=8A=80;=E9=87=87=
=E8=B4=AD=E9=83=A8
END:VCARD
"""
VCARD_30 = """BEGIN:VCARD
VERSION:3.0
N:李;娜;;;
TEL;TYPE=CELL:+86 139 8765 4321
EMAIL;TYPE=INTERNET,HOME:lina@example.com
EMAIL;TYPE=WORK:lina@work.cn
ADR;TYPE=WORK:;;建国路88号;北京市;北京市;100000;中国
TITLE:经理
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Wang
 Fang
TEL;VALUE=uri;TYPE="cell,voice":tel:+86-137-0000-1111
END:VCARD
"""


def test_vcard_2_1_quoted_printable_and_several_phones(tmp_path: Path) -> None:
    headers, rows, _enc = _read(_write(tmp_path, "a.vcf", VCARD_21.encode()), "vcf")
    card = dict(zip(headers, rows[0], strict=True))
    assert card["姓名"] == "张伟"
    assert card["公司"] == "腾飞科技"
    assert card["部门"] == "采购部"
    assert card["手机"] == "138-1234-5678；139 1234 5678"
    assert card["电话"] == "0755-12345678"
    assert card["邮箱"] == "zw@tengfei.cn"


def test_vcard_3_and_4(tmp_path: Path) -> None:
    headers, rows, _enc = _read(_write(tmp_path, "a.vcf", VCARD_30.encode()), "vcf")
    first, second = (dict(zip(headers, r, strict=True)) for r in rows)
    assert first["姓名"] == "李娜"
    assert first["邮箱"] == "lina@example.com；lina@work.cn"
    assert first["地址"] == "北京市北京市建国路88号"
    assert first["职位"] == "经理"
    assert second["姓名"] == "WangFang"
    assert second["手机"] == "+86-137-0000-1111"


def test_unknown_file_types_are_refused() -> None:
    with pytest.raises(ValidationError, match="不支持的文件类型"):
        readers.format_of("客户.pdf")
    assert readers.format_of("客户.XLSX") == "xlsx"


def test_cell_text() -> None:
    assert readers.cell_text(13812345678.0) == "13812345678"
    assert readers.cell_text(1.5) == "1.5"
    assert readers.cell_text(None) == ""
    assert readers.cell_text(True) == "TRUE"
