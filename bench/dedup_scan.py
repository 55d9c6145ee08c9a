"""The full duplicate scan of a generated archive, against the target (1M parties ≤ 5 min).

    cp var/bench.sqlite3 var/bench-dedupscan.sqlite3   # the scan writes pairs: a copy
    .venv/bin/python bench/dedup_scan.py --database-url sqlite:///$PWD/var/bench-dedupscan.sqlite3

Needs a database made by `bench/generate.py` (tenant "bench"). In a process of its own
(so that peak RSS is the scan's), the pairs and scans of earlier runs are deleted (not
timed), then one scan runs as the background task runs it: `duplicates.scan_run` in the
tenant's scope, with its scoring processes (KEHU_DEDUP_PROCESSES, default 2). Prints the
seconds of each stage — reading the profiles, blocking, scoring the pairs (the time the
scan waits for its scoring processes), writing the pairs — the pairs compared and found,
peak RSS (the scan's process; the forked scoring processes share most of it), and the
total against the target. JSON to bench/out/.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    TENANT_SLUG,
    database_label,
    machine,
    peak_rss_mib,
    setup_django,
    write_json,
)

TARGET_S = 300.0
DEFAULT = f"sqlite:///{ROOT / 'var' / 'bench-dedupscan.sqlite3'}"


def child(database_url: str, tenant_slug: str) -> dict[str, Any]:
    setup_django(database_url)
    from kehu.core.context import tenant_scope
    from kehu.dataio import duplicates
    from kehu.dataio.models import DuplicateCandidate, DuplicateScan
    from kehu.parties.models import Party
    from kehu.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug=tenant_slug)
    with tenant_scope(tenant.pk):
        DuplicateCandidate.objects.all().delete()
        DuplicateScan.objects.all().delete()
        parties = Party.objects.count()
        scan = DuplicateScan.objects.create()
        timings: dict[str, float] = {}
        start = time.perf_counter()
        scan = duplicates.scan_run(scan_id=scan.pk, timings=timings)
        total = time.perf_counter() - start
    return {
        "parties": parties,
        "blocks": scan.total_blocks,
        "pairs_compared": scan.pairs_compared,
        "pairs_found": scan.candidates_found,
        "stages_s": {k: round(v, 2) for k, v in timings.items()},
        "total_s": round(total, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "processes": duplicates.SCAN_PROCESSES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT)
    parser.add_argument("--tenant", default=TENANT_SLUG, help="the tenant's slug")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.database_url, args.tenant)))
        return
    load = os.getloadavg()
    tenant = ["--tenant", args.tenant]
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", "--database-url", args.database_url, *tenant],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the scan failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["database"] = database_label(args.database_url)
    result["load_before"] = [round(x, 2) for x in load]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(f"{result['parties']:,} parties, {result['database']}, {result['processes']} processes")
    for stage, seconds in result["stages_s"].items():
        print(f"  {stage:<8}{seconds:>9.1f} s")
    print(
        f"  blocks {result['blocks']:,}, pairs compared {result['pairs_compared']:,},"
        f" pairs found {result['pairs_found']:,}, peak RSS {result['peak_rss_mib']:,.0f} MiB"
    )
    verdict = "ok" if result["total_s"] <= TARGET_S else "OVER"
    print(f"  total {result['total_s']:.1f} s, target ≤ {TARGET_S:g} s: {verdict}")
    print(f"  load average before {result['load_before']}, after {result['load_after']}")
    result["machine"] = machine()
    print(f"figures written to {write_json('dedup-scan.json', result)}")


if __name__ == "__main__":
    main()
