"""What the sales rebuild commands share: the firms asked for, one at a time."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.context import tenant_scope
from kehu.tenancy.models import Tenant


class FirmsCommand(BaseCommand):
    """`manage.py NAME [SLUG ...]`: `rebuild()` in each named firm (every firm when none
    is named; an unknown slug is an error), with what it says and the time it took."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="the firms' slugs (default: every firm)")

    def rebuild(self) -> str:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.order_by("pk")
        if options["slugs"]:
            tenants = tenants.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - set(tenants.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"no such firm: {', '.join(sorted(missing))}")
        for tenant in tenants:
            began = time.perf_counter()
            with tenant_scope(tenant.pk):
                said = self.rebuild()
            self.stdout.write(f"{tenant.slug}: {said} in {time.perf_counter() - began:.1f} s")
