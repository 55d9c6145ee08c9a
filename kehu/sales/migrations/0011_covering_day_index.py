"""The day index holds the rows by period, rep, party and newness, so that the reports read a range off it alone;
ANALYZE afterwards (0004 of parties: SQLite has no statistics for a new index)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0010_summary_party_joins"),
        ("tenancy", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="dailysales",
            name="daily_sales_day_idx",
        ),
        migrations.AddIndex(
            model_name="dailysales",
            index=models.Index(
                fields=[
                    "tenant",
                    "dimension",
                    "month",
                    "day",
                    "currency",
                    "owner",
                    "party_key",
                    "new_within",
                    "orders",
                    "revenue",
                    "cost",
                    "profit",
                ],
                name="daily_sales_day_idx",
            ),
        ),
        migrations.RunSQL("ANALYZE sales_dailysales", migrations.RunSQL.noop, elidable=True),
    ]
