"""Give SQLite's planner statistics for the region indexes of 0003.

SQLite keeps no statistics for a new index until ANALYZE runs. Without them it took
party_city_idx for `tenant_id = ?` and sorted a million rows for the plain customer
list (1.4 s instead of 60 ms on the 1M-party benchmark). PostgreSQL plans from the
table's own statistics, so it needs nothing here.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def analyze(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("ANALYZE parties_party")


class Migration(migrations.Migration):
    dependencies = [("parties", "0003_region_indexes")]

    operations = [migrations.RunPython(analyze, migrations.RunPython.noop, elidable=True)]
