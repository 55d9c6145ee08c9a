"""`manage.py insights_score`: score every firm's customers now, or book the nightly run.

`--schedule` books the nightly task unless one is already waiting (make run calls it
before starting the worker, so restarting does not book it twice).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from kehu.insights.tasks import score_every_tenant, scoring_nightly
from kehu.pool.tasks import next_night


class Command(BaseCommand):
    help = "Score every firm's current customers (CLP, tiers, lifecycle stages)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schedule", action="store_true", help="book the nightly run instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["schedule"]:
            scored = score_every_tenant()
            self.stdout.write(f"客户价值 / insights: {scored} customers scored")
            return
        waiting = DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, task_path=scoring_nightly.module_path
        )
        if waiting.exists():
            self.stdout.write("客户价值 / insights: nightly scoring already booked")
            return
        run_after = next_night()
        scoring_nightly.using(run_after=run_after).enqueue()
        self.stdout.write(
            f"客户价值 / insights: nightly scoring booked for {run_after:%Y-%m-%d %H:%M}"
        )
