"""Each normaliser on the forms people really type, and on what it must refuse."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.dataio import mapping, normalizers, regions
from kehu.dataio.targets.parties import PARTY_FIELDS_IMPORTED


@pytest.mark.parametrize(
    ("written", "clean"),
    [("ＡＢＣ１２３", "ABC123"), ("  深圳　腾飞  ", "深圳 腾飞"), ("（北京）", "(北京)")],
)
def test_full_width_becomes_half_width(written: str, clean: str) -> None:
    assert normalizers.text(written) == clean


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "138-1234-5678",
        "138 1234 5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "１３８１２３４５６７８",
    ],
)
def test_mobiles(written: str) -> None:
    assert normalizers.mobile(written) == "+8613812345678"


@pytest.mark.parametrize(
    ("written", "clean"),
    [
        ("0755-12345678", "+8675512345678"),
        ("(010)12345678", "+861012345678"),
        ("0755-12345678转801", "+8675512345678"),
    ],
)
def test_landlines(written: str, clean: str) -> None:
    assert normalizers.phone(written) == clean


@pytest.mark.parametrize("written", ["12345", "1381234567", "0755-1234"])
def test_bad_mobiles_are_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="不是有效的手机号码"):
        normalizers.mobile(written)


def test_emails() -> None:
    assert normalizers.email(" LiNa@Example.COM ") == "lina@example.com"
    with pytest.raises(ValidationError, match="不是有效的邮箱地址"):
        normalizers.email("lina@")


@pytest.mark.parametrize(
    ("written", "clean"),
    [
        ("广东", "广东省"),
        ("广东省", "广东省"),
        ("内蒙古", "内蒙古自治区"),
        ("广西", "广西壮族自治区"),
        ("新疆", "新疆维吾尔自治区"),
        ("北京", "北京市"),
        ("香港", "香港特别行政区"),
    ],
)
def test_provinces(written: str, clean: str) -> None:
    assert normalizers.province(written) == clean


def test_an_unknown_province_is_refused() -> None:
    with pytest.raises(ValidationError, match="不是已知的省份：火星"):
        normalizers.province("火星")


def test_cities() -> None:
    assert normalizers.city("深圳", "广东省") == ("广东省", "深圳市")
    assert normalizers.city("深圳", "") == ("广东省", "深圳市")
    assert normalizers.city("延边", "吉林省") == ("吉林省", "延边朝鲜族自治州")
    assert normalizers.city("恩施", "") == ("湖北省", "恩施土家族苗族自治州")
    assert normalizers.city("昆山市", "江苏省") == ("江苏省", "昆山市")  # county-level: kept


def test_the_table_is_national() -> None:
    assert len(regions.PROVINCES) == 34
    assert sum(len(c) for c in regions.PROVINCES.values()) > 330


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("广东省深圳市南山区科技园南路1号", ("广东省", "深圳市", "南山区", "科技园南路1号")),
        ("深圳南山区科技园", ("广东省", "深圳市", "南山区", "科技园")),
        ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
        ("浙江杭州西湖区文三路", ("浙江省", "杭州市", "西湖区", "文三路")),
        ("科技园南路1号", ("", "", "", "科技园南路1号")),
    ],
)
def test_addresses_are_split(address: str, parts: tuple[str, str, str, str]) -> None:
    assert normalizers.split_address(address) == parts


@pytest.mark.parametrize(
    "written",
    [
        "2024年3月5日",
        "2024 年 3 月 5 号",
        "2024/3/5",
        "2024.3.5",
        "2024-03-05",
        "20240305",
        "45356",
        "2024-03-05 10:30:00",
    ],
)
def test_dates(written: str) -> None:
    assert normalizers.date(written) == datetime.date(2024, 3, 5)


@pytest.mark.parametrize("written", ["2024年13月5日", "明天", "2024/2/30"])
def test_bad_dates_are_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="不是有效的日期"):
        normalizers.date(written)


@pytest.mark.parametrize(
    ("written", "clean"),
    [
        ("1.2万", "12000"),
        ("¥1,234.50", "1234.50"),
        ("￥1,234.50元", "1234.50"),
        ("3亿", "300000000"),
        ("5千", "5000"),
        ("-2.5万元", "-25000"),
        ("RMB 100", "100"),
        ("1.5w", "15000"),
    ],
)
def test_amounts(written: str, clean: str) -> None:
    assert normalizers.amount(written) == Decimal(clean)


def test_bad_amounts_are_refused() -> None:
    with pytest.raises(ValidationError, match="不是有效的金额"):
        normalizers.amount("一百")


def test_several_values_in_a_cell() -> None:
    assert normalizers.many("VIP、重点；  老客户,VIP") == ["VIP", "重点", "老客户", "VIP"]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("客户名称", "name"),
        ("公司", "name"),
        ("Company Name", "name"),
        ("联系人", "contact"),
        ("姓名", "contact"),
        ("手机号码", "mobile"),
        ("联系人手机", "mobile"),
        ("Mobile", "mobile"),
        ("座机", "phone"),
        ("Tel", "phone"),
        ("电子邮件", "email"),
        ("微信号", "wechat"),
        ("QQ", "qq"),
        ("省份", "province"),
        ("城市", "city"),
        ("区县", "district"),
        ("详细地址", "address"),
        ("所属行业", "industry"),
        ("负责人", "owner"),
        ("销售", "owner"),
        ("标签", "tags"),
        ("统一社会信用代码", "uscc"),
        ("税号", "uscc"),
        ("备注", "description"),
        ("客户编号", "external_id"),
        ("External ID", "external_id"),
        ("客户类型", "roles"),
        ("网站", "website"),
        ("* 客户名称（必填）", "name"),
    ],
)
def test_headers_are_guessed(header: str, field: str) -> None:
    assert mapping.guess([header], PARTY_FIELDS_IMPORTED) == {"0": field}


def test_each_field_takes_one_column_unless_it_takes_several() -> None:
    guessed = mapping.guess(["公司", "单位", "手机1", "手机2", "备用"], PARTY_FIELDS_IMPORTED)
    assert guessed == {"0": "name", "2": "mobile", "3": "mobile"}


def test_a_template_fits_headers_written_differently() -> None:
    template = mapping.to_template(["客户名称", "手机"], {"0": "name", "1": "mobile"})
    assert mapping.from_template(["手机 ", "客户名称*"], template, {"name", "mobile"}) == {
        "0": "mobile",
        "1": "name",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024年3月5日 14:30", (2024, 3, 5, 14, 30, 0)),
        ("2024年3月5日14:30", (2024, 3, 5, 14, 30, 0)),
        ("2024/3/5 下午2点30分", (2024, 3, 5, 14, 30, 0)),
        ("2024/3/5 上午9点", (2024, 3, 5, 9, 0, 0)),
        ("2024-03-05T14:30:15", (2024, 3, 5, 14, 30, 15)),
        ("2024.3.5 9:05", (2024, 3, 5, 9, 5, 0)),
        ("2024-03-05", (2024, 3, 5, 0, 0, 0)),
        ("20240305", (2024, 3, 5, 0, 0, 0)),
        ("45356.75", (2024, 3, 5, 18, 0, 0)),
    ],
)
def test_moments_in_the_ways_people_write_them(value: str, expected: tuple[int, ...]) -> None:
    found = normalizers.moment(value)
    assert found.tzinfo is not None
    local = timezone.localtime(found)  # the time zone it was read in: the server's
    assert (local.year, local.month, local.day, local.hour, local.minute, local.second) == expected


@pytest.mark.parametrize("value", ["2024-02-30 10:00", "2024-03-05 25:00", "明天", "14:30"])
def test_bad_moments_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match=f"不是有效的时间：{value}"):
        normalizers.moment(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30", 30), ("30分钟", 30), ("45 min", 45), ("1.5小时", 90), ("2h", 120), ("１５", 15)],
)
def test_durations_in_minutes(value: str, expected: int) -> None:
    assert normalizers.minutes(value) == expected


@pytest.mark.parametrize("value", ["半小时", "-5", "3天"])
def test_bad_durations_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="不是有效的时长"):
        normalizers.minutes(value)
