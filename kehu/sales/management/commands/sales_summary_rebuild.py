"""`manage.py sales_summary_rebuild [SLUG ...]`: compute the daily sales summary of these
firms (all of them when none is named) again from their orders.

The order services keep it up to date as they write; this is for data written around
them (a database restored by hand, an import from before the summary existed).
"""

from kehu.sales.management.firms import FirmsCommand
from kehu.sales.summary import summary_rebuild


class Command(FirmsCommand):
    help = "Compute the daily sales summary of some firms (default: all) from their orders."

    def rebuild(self) -> str:
        return f"{summary_rebuild()} rows"
