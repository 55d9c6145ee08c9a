"""`manage.py restore_tenant <slug> <file.zip>`: restore a backup into an empty tenant
(`--create "Name"` creates it first). All or nothing; see kehu/dataio/backup.py."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.context import tenant_scope
from kehu.dataio.backup import BackupError, backup_restore
from kehu.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Restore a backup zip into an empty tenant, remapping every id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="the slug of the tenant to restore into")
        parser.add_argument("file", help="the backup zip")
        parser.add_argument("--create", metavar="NAME", help="create the tenant with this name")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None and options["create"]:
            tenant = Tenant.objects.create(name=options["create"], slug=slug)
        if tenant is None:
            raise CommandError(f"no tenant {slug!r} (use --create NAME to create it)")
        try:
            with tenant_scope(tenant.pk):
                result = backup_restore(tenant.pk, options["file"])
        except BackupError as exc:
            raise CommandError(exc.message) from exc
        for note in result.notes:
            self.stderr.write(note)
        rows = sum(result.counts.values())
        self.stderr.write(f"恢复 / restore: {rows} rows in {len(result.counts)} tables")
