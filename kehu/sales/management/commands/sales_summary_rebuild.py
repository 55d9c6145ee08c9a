"""`manage.py sales_summary_rebuild [SLUG ...]`: compute the daily sales summary of these
firms (all of them when none is named) again from their orders.

The order services keep it up to date as they write; this is for data written around
them (a database restored by hand, an import from before the summary existed).
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.context import tenant_scope
from kehu.sales.summary import summary_rebuild
from kehu.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Compute the daily sales summary of some firms (default: all) from their orders."
    rebuild = staticmethod(summary_rebuild)  # another summary's command names its own

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="the firms' slugs (default: every firm)")

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
                rows = self.rebuild()
            self.stdout.write(f"{tenant.slug}: {rows} rows in {time.perf_counter() - began:.1f} s")
