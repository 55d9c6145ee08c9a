"""`manage.py sales_stage_stays_rebuild [SLUG ...]`: compute the stays per stage and day
(`sales.StageStays`) of these firms (all of them when none is named) again from their
stage moves, and say how many rows had been wrong.

The deal services keep them as they move deals; this is for moves written around them
(a database changed by hand, a bulk load) or after a change of the server's TIME_ZONE
(the rows are the firm's days).
"""

from kehu.sales.management.firms import FirmsCommand
from kehu.sales.stage_stays import stage_stays_drift, stage_stays_rebuild


class Command(FirmsCommand):
    help = "Compute the time-in-stage stays per stage and day of some firms (default: all)."

    def rebuild(self) -> str:
        wrong = len(stage_stays_drift())
        return f"{stage_stays_rebuild()} rows ({wrong} were wrong)"
