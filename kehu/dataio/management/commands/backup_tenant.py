"""`manage.py backup_tenant <slug> <file.zip>`: the tenant's whole data as a backup zip
(`-` writes it to standard output). See kehu/dataio/backup.py."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.context import tenant_scope
from kehu.dataio.backup import backup_write
from kehu.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Write a tenant's backup (every record, zipped) to a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("file", help="where to write the zip; - for standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r}")
        with tenant_scope(tenant.pk):
            if options["file"] == "-":
                result = backup_write(tenant.pk, sys.stdout.buffer)
            else:
                with Path(options["file"]).open("wb") as out:
                    result = backup_write(tenant.pk, out)
        rows = sum(result.counts.values())
        self.stderr.write(
            f"备份 / backup: {rows} rows in {len(result.counts)} tables, {result.files} files"
        )
