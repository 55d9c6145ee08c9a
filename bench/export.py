"""Streaming export of every party through the export view (target: 1,000,000 rows in
≤ 60 s, memory flat).

    python bench/generate.py --parties 1000000 --database-url sqlite:///var/bench-export.sqlite3
    python bench/export.py --database-url sqlite:///var/bench-export.sqlite3
    (PostgreSQL: postgres://postgres@127.0.0.1:5432/kehu_bench_export)

In process: the view (`/exports/parties.<format>`, as the bench tenant's admin, who sees
every party) is called with a RequestFactory request and its streamed response read
chunk by chunk, as a WSGI server would send it. For each format it prints rows, seconds,
rows/s, the time to the first byte, and the process's resident memory sampled while the
file streams (start, middle, end, peak) — flat memory means the end is near the start.
The peer in the same run is the floor: the same party columns read with a bare
`values_list().iterator()` and written by `csv.writer`, with no view, no joined roles or
tags and no formula neutralisation; the ratio says what the export costs above it.
"""

import argparse
import csv
import io
import resource
import sys
import time
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

TARGET_SECONDS_PER_MILLION = 60.0


def rss_mib() -> float:
    """The resident memory now (not the peak), from /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def through_view(file_format: str, tenant_id: int) -> dict[str, Any]:
    from django.test import RequestFactory

    from kehu.core.context import tenant_scope
    from kehu.dataio.export_views import export
    from kehu.tenancy.models import User

    admin = User.all_tenants.get(username=f"{USERNAME_PREFIX}admin")
    request = RequestFactory().get(f"/exports/parties.{file_format}")
    request.user = admin
    start_rss = rss_mib()
    started = time.perf_counter()
    with tenant_scope(tenant_id):
        response = export(request, slug="parties", file_format=file_format)
    samples: list[float] = []
    first_byte = None
    size = 0
    newlines = 0
    for n, chunk in enumerate(response.streaming_content):  # type: ignore[attr-defined]
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        if file_format == "csv":
            newlines += chunk.count(b"\n")
        if n % 200 == 0:
            samples.append(rss_mib())
    seconds = time.perf_counter() - started
    response.close()
    rows = newlines - 1 if file_format == "csv" else _xlsx_rows(tenant_id)
    return {
        "format": file_format,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "first_byte_s": round(first_byte or 0.0, 2),
        "bytes": size,
        "rss_start_mib": round(start_rss, 1),
        "rss_middle_mib": round(samples[len(samples) // 2], 1) if samples else None,
        "rss_end_mib": round(samples[-1], 1) if samples else None,
        "rss_peak_mib": round(peak_mib(), 1),
    }


def _xlsx_rows(tenant_id: int) -> int:
    """The rows the export counted (its Export record): the XLSX is not re-read here."""
    from kehu.core.context import tenant_scope
    from kehu.dataio.models import Export

    with tenant_scope(tenant_id):
        return Export.objects.filter(file_format="xlsx").latest("id").row_count or 0


def floor(tenant_id: int) -> dict[str, Any]:
    from kehu.dataio.exports import EXPORTS
    from kehu.parties.models import Party

    columns = [c.source for c in EXPORTS["parties"].columns if c.source is not None]
    rows = Party.all_tenants.filter(tenant_id=tenant_id, deleted_at__isnull=True)
    started = time.perf_counter()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    n = 0
    for row in rows.order_by("-pk").values_list(*columns).iterator(chunk_size=5000):
        writer.writerow(row)
        n += 1
        if buffer.tell() > 65536:
            buffer.seek(0)
            buffer.truncate()
    seconds = time.perf_counter() - started
    return {"rows": n, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument("--formats", default="csv,xlsx")
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.conf import settings

    from kehu.tenancy.models import Tenant

    settings.KEHU_EXPORTS_PER_HOUR = 1000  # a benchmark exports more often than people do
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    results = [through_view(f, tenant.pk) for f in args.formats.split(",")]
    peer = floor(tenant.pk)
    print(f"export of parties, {database_label(args.database_url)}")
    print(f"  floor (values_list + csv.writer): {peer['rows']:,} rows in {peer['seconds']} s")
    for r in results:
        budget = TARGET_SECONDS_PER_MILLION * r["rows"] / 1_000_000
        verdict = "ok" if r["seconds"] <= budget else "OVER"
        print(
            f"  {r['format']:4} {r['rows']:,} rows in {r['seconds']} s ({r['rows_per_s']:,}/s, "
            f"{r['seconds'] / peer['seconds']:.1f}× the floor), first byte {r['first_byte_s']} s, "
            f"{r['bytes'] / 2**20:.0f} MiB; RSS {r['rss_start_mib']} → {r['rss_middle_mib']} → "
            f"{r['rss_end_mib']} MiB (peak {r['rss_peak_mib']}); "
            f"target {budget:.0f} s: {verdict}"
        )
    write_json(
        f"export-{database_label(args.database_url)}.json",
        {"machine": machine(), "floor": peer, "results": results},
    )


if __name__ == "__main__":
    main()
