"""Date parts and period starts that SQLite reads off a date's ISO text.

Django's Extract and Trunc call a Python function for every row on SQLite (a catch-up
of the sales summary spent most of its time there, a report grouping 70,000 deals by
month a third of a second). These are the same functions, with the same output field,
written as SQLite's own string functions on the `YYYY-MM-DD` text; on PostgreSQL they
are Django's. Only for dates (a DateField or a date-valued expression), not datetimes.
"""

from typing import Any

from django.db.models.functions import (
    ExtractMonth,
    ExtractQuarter,
    ExtractYear,
    TruncMonth,
    TruncQuarter,
    TruncYear,
)


class IsoText:
    """`sqlite`: the SQL, with {0} (or one {}) for the date, as often as it needs it."""

    sqlite = "{}"
    lhs: Any

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.lhs)
        uses = self.sqlite.count("{0}") or 1
        return self.sqlite.format(sql), tuple(params) * uses


class Year(IsoText, ExtractYear):
    sqlite = "CAST(substr({}, 1, 4) AS INTEGER)"


class Month(IsoText, ExtractMonth):
    sqlite = "CAST(substr({}, 6, 2) AS INTEGER)"


class Quarter(IsoText, ExtractQuarter):
    sqlite = "((CAST(substr({}, 6, 2) AS INTEGER) + 2) / 3)"


class MonthStart(IsoText, TruncMonth):
    sqlite = "(substr({}, 1, 8) || '01')"


class QuarterStart(IsoText, TruncQuarter):
    sqlite = (
        "(substr({0}, 1, 5) || CASE WHEN substr({0}, 6, 2) <= '03' THEN '01' "
        "WHEN substr({0}, 6, 2) <= '06' THEN '04' WHEN substr({0}, 6, 2) <= '09' THEN '07' "
        "ELSE '10' END || '-01')"
    )


class YearStart(IsoText, TruncYear):
    sqlite = "(substr({}, 1, 4) || '-01-01')"
