"""`manage.py effort_summary_rebuild [SLUG ...]`: compute the daily effort summary of
these firms (all of them when none is named) again from their interactions, tasks and
service time.

The activity services keep it up to date as they write; this is for data written around
them (a database restored by hand, activities written before the summary existed).
"""

from kehu.activities.summary import effort_rebuild
from kehu.sales.management.firms import FirmsCommand


class Command(FirmsCommand):
    help = "Compute the daily effort summary of some firms (default: all) from their activities."

    def rebuild(self) -> str:
        return f"{effort_rebuild()} rows"
