"""`manage.py sales_stage_totals_rebuild [SLUG ...]`: compute the board's deals and
amounts per stage and owner (`sales.StageTotal`) of these firms (all of them when none
is named) again from their deals, and say how many rows had been wrong.

The deal services keep them as they write; this is for deals written around them (a
database changed by hand, a bulk load).
"""

from kehu.sales.management.firms import FirmsCommand
from kehu.sales.stage_totals import stage_totals_drift, stage_totals_rebuild


class Command(FirmsCommand):
    help = "Compute the board's stage totals of some firms (default: all) from their deals."

    def rebuild(self) -> str:
        wrong = len(stage_totals_drift())
        return f"{stage_totals_rebuild()} rows ({wrong} were wrong)"
