"""Turning what people type into spreadsheets into the values the archive keeps.

Each function takes a cell's text and returns the clean value, or raises a translated
ValidationError saying what is wrong with it (the importer adds the row and column).
Text, phones and USCCs go through `kehu.parties.normalize`, the same code the archive's
own forms use, so an imported value and a typed one cannot differ.
"""

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.dataio import regions
from kehu.parties import normalize

text = normalize.text
_SEPARATORS = re.compile(r"[;；,，、/|\n]+")


def many(value: str) -> list[str]:
    """A cell holding several values: 13812345678；13987654321 or VIP、重点."""
    return [v for v in (text(part) for part in _SEPARATORS.split(value)) if v]


def mobile(value: str) -> str:
    return normalize.phone(value, mobile=True)


def phone(value: str) -> str:
    """A landline or any phone: 0755-12345678, (010)12345678, 0755 1234 5678 ext."""
    cleaned = re.sub(r"(?:转|ext\.?|x)\s*\d+$", "", text(value), flags=re.IGNORECASE)
    return normalize.phone(cleaned, mobile=False)


def email(value: str) -> str:
    address = text(value).lower()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationError(_("不是有效的邮箱地址：%(value)s") % {"value": value}) from exc
    return address


def province(value: str) -> str:
    """广东 / 广东省 / ｇｕａｎｇｄｏｎｇ… → 广东省; an unknown province is refused."""
    name = text(value).replace(" ", "")
    full = regions.province_names().get(name) or regions.province_names().get(
        regions.short_province(name)
    )
    if full is None:
        raise ValidationError(_("不是已知的省份：%(value)s") % {"value": value})
    return full


def city(value: str, province_name: str) -> tuple[str, str]:
    """(province, city): 深圳 → (广东省, 深圳市). Without a province, a city known in
    exactly one province gives it. A city not in the table (a county-level city) is
    kept as written: the table is for the common cases, not a gate."""
    name = text(value).replace(" ", "")
    if province_name:
        known = regions.city_names().get(province_name, {})
        return province_name, known.get(name) or known.get(regions.short_city(name)) or name
    places = regions.cities_anywhere().get(name) or regions.cities_anywhere().get(
        regions.short_city(name), []
    )
    if len(places) == 1:
        return places[0]
    return "", name


_ADDRESS_DISTRICT = re.compile(r"^(.{1,8}?(?:新区|区|县|旗|市))")


def _longest_prefix(value: str, names: Iterable[str]) -> str:
    return max((w for w in names if value.startswith(w)), key=len, default="")


def split_address(value: str) -> tuple[str, str, str, str]:
    """(province, city, district, rest) read off the front of a full address:
    广东省深圳市南山区科技园 → (广东省, 深圳市, 南山区, 科技园); 深圳南山区… works too."""
    rest = text(value).replace(" ", "")
    written = _longest_prefix(rest, regions.province_names())
    found_province = regions.province_names().get(written, "")
    rest = rest[len(written) :]
    if found_province:
        cities = regions.city_names()[found_province]
    else:
        cities = {w: p[0][1] for w, p in regions.cities_anywhere().items() if len(p) == 1}
    written = _longest_prefix(rest, cities)
    if not written and regions.PROVINCES.get(found_province) == (found_province,):
        written = ""  # 北京市朝阳区…: a municipality is its own city
        cities = {"": found_province}
    elif not written:
        return found_province, "", "", rest
    found_city, rest = cities[written], rest[len(written) :]
    found_province = found_province or regions.cities_anywhere()[written][0][0]
    return (found_province, found_city, *split_district(rest))


def split_district(rest: str) -> tuple[str, str]:
    """(district, rest) of an address that starts after the city: 南山区科技园 → 南山区, 科技园."""
    match = _ADDRESS_DISTRICT.match(rest)
    if match and len(rest) > len(match.group(1)):
        return match.group(1), rest[len(match.group(1)) :]
    return "", rest


_CHINESE_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$")
_SEPARATED_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Excel counts days from 1899-12-30 (its 1900 leap-year bug folded in).
EXCEL_EPOCH = datetime.date(1899, 12, 30)


def date(value: str) -> datetime.date:
    """2024年3月5日, 2024/3/5, 2024.3.5, 2024-03-05, 20240305 or an Excel serial (45356)."""
    cell = text(value)
    for pattern in (_CHINESE_DATE, _SEPARATED_DATE, _COMPACT_DATE):
        match = pattern.match(cell)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return datetime.date(year, month, day)
            except ValueError:
                break
    else:
        if re.fullmatch(r"\d{1,5}(?:\.0+)?", cell) and 0 < float(cell) < 2958466:
            return EXCEL_EPOCH + datetime.timedelta(days=int(float(cell)))
    raise ValidationError(_("不是有效的日期：%(value)s") % {"value": value})


_UNITS = {"千": Decimal(1000), "k": Decimal(1000), "万": Decimal(10_000), "w": Decimal(10_000)}
_UNITS |= {"百万": Decimal(1_000_000), "千万": Decimal(10_000_000), "亿": Decimal(100_000_000)}
_AMOUNT = re.compile(r"^([-+]?\d+(?:\.\d+)?)(百万|千万|千|万|亿|k|w)?$")


def amount(value: str) -> Decimal:
    """1.2万 → 12000, ¥1,234.50 → 1234.50, 3亿 → 300000000, -5千元 → -5000."""
    cell = text(value).lower()
    cell = re.sub(r"^(?:¥|rmb|cny)|元$|人民币", "", cell).replace(",", "").replace(" ", "")
    cell = cell.removesuffix("元")
    match = _AMOUNT.match(cell)
    if not match:
        raise ValidationError(_("不是有效的金额：%(value)s") % {"value": value})
    return Decimal(match.group(1)) * _UNITS.get(match.group(2) or "", Decimal(1))


_TIME_OF_DAY = re.compile(
    r"^(?P<date>.+?)(?:[\sT]+|(?<=[日号]))(?P<ampm>上午|下午|晚上)?\s*"
    r"(?P<hour>\d{1,2})\s*[:：点时]\s*(?P<minute>\d{1,2})?\s*分?\s*(?::\s*(?P<second>\d{1,2}))?$"
)
_EXCEL_MOMENT = re.compile(r"^\d{1,5}\.\d+$")


def moment(value: str) -> datetime.datetime:
    """A date with or without a time of day, in the current time zone: 2024年3月5日
    14:30, 2024/3/5 下午2点30分, 2024-03-05T14:30:00, 2024-03-05 (midnight) or an Excel
    serial with a fraction of a day (45356.5 is noon)."""
    cell = text(value)
    if _EXCEL_MOMENT.match(cell) and 0 < float(cell) < 2958466:
        day = EXCEL_EPOCH + datetime.timedelta(days=int(float(cell)))
        seconds = round((float(cell) % 1) * 86400)
        naive = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(
            seconds=seconds
        )
        return timezone.make_aware(naive)
    match = _TIME_OF_DAY.match(cell)
    try:
        if match is None:
            return timezone.make_aware(datetime.datetime.combine(date(cell), datetime.time()))
        day = date(match["date"])
        hour = int(match["hour"])
        if match["ampm"] in {"下午", "晚上"} and hour < 12:
            hour += 12
        clock = datetime.time(hour, int(match["minute"] or 0), int(match["second"] or 0))
    except (ValidationError, ValueError) as exc:
        raise ValidationError(_("不是有效的时间：%(value)s") % {"value": value}) from exc
    return timezone.make_aware(datetime.datetime.combine(day, clock))


_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(分钟|分|min|mins|minutes|m|小时|时|h|hr|hrs|hours)?$")


def minutes(value: str) -> int:
    """A duration in whole minutes: 30, 30分钟, 45 min, 1.5小时 (90), 2h (120)."""
    match = _MINUTES.match(text(value).lower())
    if not match:
        raise ValidationError(_("不是有效的时长（分钟）：%(value)s") % {"value": value})
    number = Decimal(match.group(1))
    hours = match.group(2) in {"小时", "时", "h", "hr", "hrs", "hours"}
    return int((number * 60 if hours else number).to_integral_value())
