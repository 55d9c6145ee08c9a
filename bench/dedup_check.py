"""Checking one new record against the archive: the warning on create and import.

    .venv/bin/python bench/dedup_check.py --database-url sqlite:///$PWD/var/bench.sqlite3

Needs a database made by `bench/generate.py` (tenant "bench"). Times
`kehu.dataio.duplicates.duplicates_of` — the search-key look-ups, the profiles of the
parties found and their scores — for three kinds of new record, each drawn from the
archive (seeded):

- `copy`: an existing organisation typed again (legal form swapped, its phone);
- `alike`: an existing person's name with one of their phones written another way;
- `new`: a name and a mobile that exist nowhere.

Prints p50 / p95 / max in ms per kind against the target (≤ 200 ms) and how often the
original was found; JSON to bench/out/.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_SQLITE, TENANT_SLUG, database_label, machine, setup_django, write_json

TARGET_MS = 200.0
FORMS = ("有限公司", "股份有限公司", "有限责任公司")


def samples(n: int, seed: int) -> list[tuple[str, Any, int]]:
    """(kind of sample, NewParty, the party it copies or 0)."""
    from kehu.dataio.duplicates import NewParty
    from kehu.parties.models import ContactPoint, Party

    rng = random.Random(seed)
    top = Party.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    out: list[tuple[str, Any, int]] = []
    while len(out) < 2 * n:
        party = Party.objects.filter(pk__gte=rng.randint(1, top)).order_by("pk").first()
        if party is None:
            continue
        phones = list(
            ContactPoint.objects.filter(party=party, kind__in=["mobile", "phone"]).values_list(
                "value", flat=True
            )
        )
        if party.kind == "organisation" and len([k for k, _p, _o in out if k == "copy"]) < n:
            name = party.name
            for form in FORMS:
                if name.endswith(form):
                    name = name.removesuffix(form) + rng.choice([f for f in FORMS if f != form])
                    break
            out.append(("copy", NewParty("organisation", name, phones=phones[:1]), party.pk))
        elif party.kind == "person" and phones and len([k for k, *_ in out if k == "alike"]) < n:
            phone = phones[0].replace("+86", "")
            spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
            out.append(("alike", NewParty("person", party.name, phones=[spaced]), party.pk))
    for i in range(n):
        name = "".join(rng.choice("鹭岚霁瀚翊珩璟琰") for _ in range(3)) + f"{i}实业有限公司"
        mobile = f"199{rng.randrange(10**8):08d}"
        out.append(("new", NewParty("organisation", name, phones=[mobile]), 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument("--samples", type=int, default=100, help="per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tenant", default=TENANT_SLUG, help="the tenant's slug")
    args = parser.parse_args()
    setup_django(args.database_url)
    from kehu.core.context import tenant_scope
    from kehu.dataio.duplicates import duplicates_of
    from kehu.parties.models import Party
    from kehu.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug=args.tenant)
    result: dict[str, Any] = {"database": database_label(args.database_url)}
    with tenant_scope(tenant.pk):
        result["parties"] = Party.objects.count()
        drawn = samples(args.samples, args.seed)
        duplicates_of(drawn[0][1])  # warm-up: connections, caches
        timings: dict[str, list[float]] = {}
        found: dict[str, int] = {}
        for kind, new, original in drawn:
            start = time.perf_counter()
            matches = duplicates_of(new)
            timings.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
            hit = any(original in (m.a, m.b) for m in matches) if original else not matches
            found[kind] = found.get(kind, 0) + hit
    print(f"{result['parties']:,} parties, {result['database']}")
    print(f"  {'sample':<8}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  found / none")
    for kind, values in timings.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        row = {
            "n": len(values),
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(values[-1], 1),
            "as_expected": found[kind],
        }
        result[kind] = row
        verdict = "ok" if p95 <= TARGET_MS else "OVER"
        print(
            f"  {kind:<8}{row['n']:>5}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['max_ms']:>9}"
            f"  {found[kind]}/{len(values)}  target p95 ≤ {TARGET_MS:g} ms {verdict}"
        )
    result["machine"] = machine()
    print(f"figures written to {write_json('dedup-check.json', result)}")


if __name__ == "__main__":
    main()
