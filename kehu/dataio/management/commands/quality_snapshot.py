"""`manage.py quality_snapshot`: take today's data-quality snapshots of every firm now,
or (`--schedule`) book the nightly task unless one is already waiting."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kehu.dataio.tasks import quality_snapshot_nightly, snapshot_every_tenant
from kehu.pool.tasks import book_nightly


class Command(BaseCommand):
    help = "Record today's data-quality figures of every firm (the trend chart's points)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule", action="store_true", help="book the nightly snapshot instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["schedule"]:
            written = snapshot_every_tenant()
            self.stdout.write(f"数据质量 / data quality: {written} snapshots written")
            return
        run_after = book_nightly(quality_snapshot_nightly)
        if run_after is None:
            self.stdout.write("数据质量 / data quality: nightly snapshot already booked")
            return
        self.stdout.write(
            f"数据质量 / data quality: nightly snapshot booked for {run_after:%Y-%m-%d %H:%M}"
        )
