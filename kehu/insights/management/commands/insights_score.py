"""`manage.py insights_score`: score every firm's customers now, or book the nightly run.

`--schedule` books the nightly task unless one is already waiting (make run calls it
before starting the worker, so restarting does not book it twice).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kehu.insights.tasks import score_every_tenant, scoring_nightly
from kehu.pool.tasks import book_nightly


class Command(BaseCommand):
    help = "Score every firm's current customers (CLP, tiers, lifecycle stages)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schedule", action="store_true", help="book the nightly run instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["schedule"]:
            scored = score_every_tenant()
            self.stdout.write(f"客户价值 / insights: {scored} customers scored")
            return
        run_after = book_nightly(scoring_nightly)
        if run_after is None:
            self.stdout.write("客户价值 / insights: nightly scoring already booked")
            return
        self.stdout.write(
            f"客户价值 / insights: nightly scoring booked for {run_after:%Y-%m-%d %H:%M}"
        )
