"""`manage.py pool_sweep`: return idle parties to the pool now, or book the nightly run.

`--schedule` books the nightly task unless one is already waiting (make run calls it
before starting the worker, so restarting does not book it twice).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kehu.pool.tasks import book_nightly, pool_sweep_nightly, sweep_every_tenant


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
        run_after = book_nightly(pool_sweep_nightly)
        if run_after is None:
            self.stdout.write("公海 / pool: nightly sweep already booked")
            return
        self.stdout.write(f"公海 / pool: nightly sweep booked for {run_after:%Y-%m-%d %H:%M}")
