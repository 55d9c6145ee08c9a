"""`manage.py pool_sweep`: return idle parties to the pool now, or book the nightly run.

`--schedule` books the nightly task unless one is already waiting (make run calls it
before starting the worker, so restarting does not book it twice).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from kehu.pool.tasks import next_night, pool_sweep_nightly, sweep_every_tenant


def _nightly_booked() -> bool:
    path = pool_sweep_nightly.module_path
    # Waiting, whenever it is due (ready() would leave out tomorrow night's run).
    waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=path)
    return waiting.exists()


class Command(BaseCommand):
    help = "Move parties idle past their firm's pool rule into the customer pool (公海)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule", action="store_true", help="book the nightly sweep instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["schedule"]:
            moved = sweep_every_tenant()
            self.stdout.write(f"公海 / pool: {moved} parties moved")
            return
        if _nightly_booked():
            self.stdout.write("公海 / pool: nightly sweep already booked")
            return
        run_after = next_night()
        pool_sweep_nightly.using(run_after=run_after).enqueue()
        self.stdout.write(f"公海 / pool: nightly sweep booked for {run_after:%Y-%m-%d %H:%M}")
