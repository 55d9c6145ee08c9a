"""Stays per stage and day for the time-in-stage report (decision 0019), filled from the
moves."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models
from django.utils import timezone


def fill(apps, schema_editor):
    """Every firm's stays per stage and day from its moves (the firm's day of each move,
    its length in whole microseconds, as `kehu.sales.stage_stays` keeps them)."""
    StageMove = apps.get_model("sales", "StageMove")
    StageStays = apps.get_model("sales", "StageStays")
    found = {}
    moves = StageMove._base_manager.filter(
        from_stage__isnull=False, stayed_seconds__isnull=False
    ).order_by()
    rows = moves.values_list("tenant_id", "from_stage_id", "moved_at", "stayed_seconds")
    for tenant, stage, moved_at, seconds in rows.iterator(chunk_size=5000):
        row = found.setdefault((tenant, stage, timezone.localtime(moved_at).date()), [0, 0])
        row[0] += 1
        row[1] += round(seconds * 1_000_000)
    StageStays._base_manager.bulk_create(
        (
            StageStays(tenant_id=t, stage_id=s, day=d, stays=n, micros=us)
            for (t, s, d), (n, us) in sorted(found.items())
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0011_covering_day_index"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="StageStays",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("stays", models.IntegerField(default=0)),
                ("micros", models.BigIntegerField(default=0)),
                (
                    "stage",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="sales.stage",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.tenant",
                    ),
                ),
            ],
            options={
                "base_manager_name": "all_tenants",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "stage", "day"), name="stage_stays_key"
                    )
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("all_tenants", django.db.models.manager.Manager()),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
