"""Timings of the data-quality figures (kehu/dataio/quality.py) on a benchmark database.

    python bench/quality.py --database-url sqlite:///$PWD/var/bench.sqlite3

As the benchmark tenant's admin (the whole list) and a salesperson (own): the whole
report, first in a fresh process (every phone and email validated) and again (the
validity cache warm), its parts, and the customer-list filters behind the links.
Prints milliseconds; JSON to bench/out/.
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DEFAULT_SQLITE,
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    machine,
    setup_django,
    write_json,
)


def once(run: Callable[[], Any]) -> float:
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    args = parser.parse_args()
    setup_django(args.database_url)

    from kehu.core.context import tenant_scope
    from kehu.dataio import quality
    from kehu.parties.models import ContactPoint
    from kehu.parties.selectors import PartyFilters, party_list
    from kehu.tenancy.models import Tenant, User

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    figures: dict[str, Any] = {"database": database_label(args.database_url)}
    with tenant_scope(tenant.pk):
        figures["parties"] = quality.firm_scope().count()
        figures["contact_points"] = ContactPoint.objects.count()
        for who in ("admin", "sales1"):
            user = User.objects.get(username=f"{USERNAME_PREFIX}{who}")
            scope = quality.user_scope(user)
            quality.value_is_valid.cache_clear()
            figures[f"{who}: report, cold"] = once(lambda: quality.report(scope))  # noqa: B023
            figures[f"{who}: report, warm"] = once(lambda: quality.report(scope))  # noqa: B023
            quality.value_is_valid.cache_clear()
            figures[f"{who}: invalid values, cold"] = once(
                lambda: list(quality._invalid_rows(scope))  # noqa: B023
            )
            figures[f"{who}: grouped counts"] = once(
                lambda: list(scope.values("owner_id").annotate(**quality.grouped_counts(90)))  # noqa: B023
            )
            for label, filters in {
                "?missing=email": PartyFilters(missing="email", in_pool=False),
                "?stale=90": PartyFilters(stale_days=90, in_pool=False),
                "?duplicate=1": PartyFilters(duplicate=True, in_pool=False),
                "?invalid=mobile (warm)": PartyFilters(invalid="mobile", in_pool=False),
            }.items():

                def first_page(f: PartyFilters = filters) -> None:
                    list(party_list(user, f)[:50])  # noqa: B023

                figures[f"{who}: list {label}, first page"] = once(first_page)
    for key, value in figures.items():
        print(f"{key:45} {value:.0f} ms" if isinstance(value, float) else f"{key:45} {value}")
    write_json(f"quality-{figures['database']}", {"machine": machine(), "figures": figures})


if __name__ == "__main__":
    main()
