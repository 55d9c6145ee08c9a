"""Date ranges (with presets) and the periods a report groups by."""

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.isodates import MonthStart, QuarterStart, YearStart


class Period(models.TextChoices):
    MONTH = "month", _("按月")
    QUARTER = "quarter", _("按季度")
    YEAR = "year", _("按年")


class Preset(models.TextChoices):
    LAST_12_MONTHS = "last_12_months", _("近 12 个月")
    THIS_YEAR = "this_year", _("今年")
    LAST_YEAR = "last_year", _("去年")
    CUSTOM = "custom", _("自定义")


# The start of a date's period (native on SQLite too: kehu.core.isodates).
TRUNC = {Period.MONTH: MonthStart, Period.QUARTER: QuarterStart, Period.YEAR: YearStart}
# A report spans at most this long: a wider range is a different question (and query).
MAX_DAYS = 366 * 10


def preset_range(preset: str, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """[since, until], both days included, of a preset; the last 12 months include this
    month (so that they compare with the same months of last year)."""
    if preset == Preset.THIS_YEAR:
        return datetime.date(today.year, 1, 1), today
    if preset == Preset.LAST_YEAR:
        return datetime.date(today.year - 1, 1, 1), datetime.date(today.year - 1, 12, 31)
    return shift_months(today.replace(day=1), -11), today


def shift_months(first: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months` after `first`'s (before, when negative)."""
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def period_start(day: datetime.date, period: str) -> datetime.date:
    if period == Period.YEAR:
        return datetime.date(day.year, 1, 1)
    if period == Period.QUARTER:
        return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return day.replace(day=1)


def period_starts(since: datetime.date, until: datetime.date, period: str) -> list[datetime.date]:
    """Every period that [since, until] touches, oldest first (empty ones included)."""
    step = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[Period(period)]
    starts, current = [], period_start(since, period)
    while current <= until:
        starts.append(current)
        current = shift_months(current, step)
    return starts


def period_label(start: datetime.date, period: str) -> str:
    """2025-03, 2025 Q1 or 2025: the same in every language (and sortable)."""
    if period == Period.YEAR:
        return str(start.year)
    if period == Period.QUARTER:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return start.strftime("%Y-%m")
