"""`manage.py load_demo`: the demo firm 演示公司 with its staff and customers, once.

Run again, it writes nothing and prints the logins (make run calls it every time).
"""

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.context import tenant_scope
from kehu.demo.generator import (
    DEMO_INTERACTIONS,
    DEMO_LEADS,
    DEMO_OPPORTUNITIES,
    DEMO_ORDERS,
    DEMO_PARTIES,
    DEMO_PASSWORD,
    DEMO_SEED,
    demo_load,
    site_url,
    staff_of,
)
from kehu.insights.services import scoring_run_now
from kehu.tenancy.models import Role, User


class Command(BaseCommand):
    help = "Create the demo firm 演示公司 (slug 'demo') with deterministic data, unless it exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--parties", type=int, default=DEMO_PARTIES)
        parser.add_argument("--interactions", type=int, default=DEMO_INTERACTIONS)
        parser.add_argument("--orders", type=int, default=DEMO_ORDERS)
        parser.add_argument("--opportunities", type=int, default=DEMO_OPPORTUNITIES)
        parser.add_argument("--leads", type=int, default=DEMO_LEADS)
        parser.add_argument("--seed", type=int, default=DEMO_SEED)

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.perf_counter()
        try:
            tenant, report = demo_load(
                parties=options["parties"],
                interactions=options["interactions"],
                orders=options["orders"],
                opportunities=options["opportunities"],
                leads=options["leads"],
                seed=options["seed"],
                progress=self._progress if options["verbosity"] > 1 else None,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if report is None:
            self.stdout.write(f"演示公司已存在 / demo firm already loaded: {tenant.name}")
        else:
            scored_in = self._score(tenant.pk)
            rows = ", ".join(f"{label} {n:,}" for label, n in sorted(report.rows.items()))
            self.stdout.write(
                self.style.SUCCESS(
                    f"演示公司已创建 / demo firm created in {time.perf_counter() - began:.1f} s "
                    f"({report.total_rows:,} rows: {rows}); "
                    f"客户价值评分 / customers scored in {scored_in:.1f} s"
                )
            )
        self._logins(staff_of(tenant))

    def _score(self, tenant_id: int) -> float:
        """Score the demo firm once, so that its value pages show values; seconds taken."""
        began = time.perf_counter()
        with tenant_scope(tenant_id):
            scoring_run_now(actor=None)
        return time.perf_counter() - began

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stdout.write(f"  {stage}: {done:,}/{total:,}")

    def _logins(self, users: list[User]) -> None:
        self.stdout.write(f"\n打开 / open {site_url()} — 密码 / password: {DEMO_PASSWORD}\n")
        # ASCII columns first: Chinese characters are twice as wide in a terminal.
        header = f"  {'username':<20} {'role':<10} {'visibility':<10} {'password':<16} 姓名 · 角色"
        self.stdout.write(header)
        for user in users:
            self.stdout.write(
                f"  {user.username:<20} {user.role:<10} {user.visibility:<10} "
                f"{DEMO_PASSWORD:<16} {user.display_name} · {Role(user.role).label}"
            )
