"""The day index holds the party and the minutes, so that the reports read a range off it alone;
ANALYZE afterwards (0004 of parties: SQLite has no statistics for a new index)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0005_effort_sales_summary"),
        ("parties", "0008_deleted_party_index"),
        ("sales", "0010_summary_party_joins"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="dailyeffort",
            name="daily_effort_day_idx",
        ),
        migrations.AddIndex(
            model_name="dailyeffort",
            index=models.Index(
                fields=[
                    "tenant",
                    "month",
                    "day",
                    "party",
                    "interaction_minutes",
                    "task_minutes",
                    "service_minutes",
                ],
                name="daily_effort_day_idx",
            ),
        ),
        migrations.RunSQL("ANALYZE activities_dailyeffort", migrations.RunSQL.noop, elidable=True),
    ]
