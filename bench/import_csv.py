"""Import a CSV of N parties through kehu's importer, then the same file through
django-import-export, into a fresh benchmark database; print rows/s and peak memory.

    python bench/import_csv.py --rows 100000 \\
        --database-url sqlite:///$PWD/var/bench-import.sqlite3
    python bench/import_csv.py --rows 100000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_import
    python bench/import_csv.py --rows 100000 --compare-rows 20000 --xlsx-rows 100000

The database is dropped and migrated first: its name must contain "bench". The file is
realistic: company names, a contact person with a mobile and an email, province and city
(short forms, as people type them), an industry; 1% of rows repeat an earlier company
(the duplicate check finds them) and 1% carry a bad mobile (refused).
kehu's run is the real code path: upload, guessed mapping, dry run, run — the task body
called in this process. django-import-export imports the same rows as a ModelResource of
Party (name, kind, industry, province, city; `name` as its id field).
`--xlsx-rows N` also imports the first N rows as an XLSX file (the issue's target: 100,000
rows in ≤ 15 s, dry run and run together). Peak memory is the process's ru_maxrss (the
target: ≤ 1 GiB); the helper process that plans each next batch (kehu.dataio.ahead) is
shown apart (`--no-plan-ahead`: none).
"""

import argparse
import csv
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, database_label, machine, setup_django, write_json
from generate import fresh_database

HEADER = ["客户编号", "客户名称", "联系人", "手机", "邮箱", "省", "市", "行业"]


def write_csv(path: Path, rows: int, seed: int) -> None:
    from kehu.demo import data

    rng = random.Random(seed)
    cities = [(p.name, c.name) for p in data.PROVINCES for c in p.cities]
    surnames = [s for s, _w in data.SURNAMES]
    given = data.GIVEN_CHARS_MALE + data.GIVEN_CHARS_FEMALE
    written: list[list[str]] = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            if written and rng.random() < 0.01:
                row = list(rng.choice(written))
                row[0] = f"X{i:08d}"  # another system's id for a company already listed
            else:
                row = _row(rng, i, cities, surnames, given, data)
            if rng.random() < 0.01:
                row[3] = "1234"  # not a mobile
            if len(written) < 10_000:
                written.append(row)
            writer.writerow(row)


def _row(
    rng: random.Random,
    i: int,
    cities: list[tuple[str, str]],
    surnames: list[str],
    given: str,
    data: Any,
) -> list[str]:
    province, city = rng.choice(cities)
    business, industry, _w = rng.choice(data.BUSINESSES)
    brand = "".join(rng.choice(data.BRAND_CHARS) for _ in range(2))
    place = city.removesuffix("市")
    name = f"{place}{brand}{business}有限公司{i}"
    person = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
    mobile = f"{rng.choice(data.MOBILE_PREFIXES)}{i % 100_000_000:08d}"
    email = f"u{i}@{rng.choice(data.MAIL_DOMAINS)[0]}"
    return [f"C{i:08d}", name, person, mobile, email, province.removesuffix("省"), place, industry]


def write_xlsx(csv_path: Path, path: Path, rows: int) -> None:
    """The first `rows` rows of the CSV as an Excel workbook (constant memory mode)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for i, row in enumerate(csv.reader(handle)):
            if i > rows:
                break
            sheet.write_row(i, 0, row)
    book.close()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def helper_peak_rss_mib() -> float:
    """The largest peak of the helper processes that planned batches ahead (forked from
    this one, so their pages are mostly shared with it: the sum overstates)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_kehu(path: Path, tenant_id: int, actor: Any) -> dict[str, Any]:
    """Upload, keep the guessed mapping (matching by 客户编号), dry run, run. The task
    backend is the immediate one here, so each task runs in this process as it is queued."""
    from django.core.files import File

    from kehu.core.context import tenant_scope
    from kehu.dataio import services
    from kehu.parties.models import Party

    with tenant_scope(tenant_id), path.open("rb") as handle:
        job = services.import_upload(actor=actor, file=File(handle, name=path.name))
        job = services.import_set_mapping(
            actor=actor, job=job, mapping=job.mapping, options={"key": "external_id"}
        )
        started = time.perf_counter()
        job = services.import_dry_run(actor=actor, job=job)
        dry = time.perf_counter() - started
        job.refresh_from_db()
        dry_counts = dict(job.counts)
        started = time.perf_counter()
        services.import_start(actor=actor, job=job)
        run = time.perf_counter() - started
        job.refresh_from_db()
        parties = Party.objects.count()
    rows = job.total_rows or 0
    return {
        "status": job.status,
        "rows": rows,
        "dry_run_s": round(dry, 2),
        "dry_run_rows_per_s": round(rows / dry),
        "dry_run_counts": dry_counts,
        "run_s": round(run, 2),
        "run_rows_per_s": round(rows / run),
        "counts": job.counts,
        "parties_in_db": parties,
    }


def run_import_export(path: Path, tenant_id: int, actor: Any, limit: int) -> dict[str, Any]:
    """The same rows (the first `limit`) through django-import-export's ModelResource."""
    import tablib
    from import_export import fields, resources

    from kehu.core.context import tenant_scope
    from kehu.parties.models import Party

    class PartyResource(resources.ModelResource):  # type: ignore[misc]
        name = fields.Field(attribute="name", column_name="客户名称")
        industry = fields.Field(attribute="industry", column_name="行业")
        province = fields.Field(attribute="province", column_name="省")
        city = fields.Field(attribute="city", column_name="市")

        class Meta:
            model = Party
            fields = ("name", "industry", "province", "city")
            import_id_fields = ("name",)

        def before_save_instance(self, instance: Party, row: Any, **kwargs: Any) -> None:
            instance.kind, instance.owner, instance.tenant_id = "organisation", actor, tenant_id

    with path.open(encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(limit + 1)]
    dataset = tablib.Dataset().load("".join(lines), format="csv")
    with tenant_scope(tenant_id):
        before = Party.objects.count()
        started = time.perf_counter()
        result = PartyResource().import_data(dataset, dry_run=False, use_transactions=True)
        seconds = time.perf_counter() - started
        created = Party.objects.count() - before
    return {
        "rows": len(dataset),
        "s": round(seconds, 2),
        "rows_per_s": round(len(dataset) / seconds),
        "errors": result.has_errors(),
        "parties_created": created,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-import.sqlite3'}"
    )
    parser.add_argument(
        "--compare-rows", type=int, default=0, help="rows for django-import-export (0: all)"
    )
    parser.add_argument(
        "--xlsx-rows", type=int, default=0, help="also import this many rows as XLSX (0: not)"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--no-plan-ahead",
        action="store_true",
        help="plan every batch in this process (no helper process: kehu.dataio.ahead)",
    )
    args = parser.parse_args()
    import os

    os.environ["TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    os.environ["MEDIA_ROOT"] = str(ROOT / "var" / "bench-import-media")
    fresh_database(args.database_url)
    setup_django(args.database_url)
    from django.conf import settings
    from django.core.management import call_command

    settings.IMPORT_PLAN_AHEAD = not args.no_plan_ahead

    # No loading pragmas (generate.py's tune_for_loading): the import runs as the task
    # worker runs it, and SQLite's page cache would count in the peak memory.
    call_command("migrate", verbosity=0)
    tenant, actor = _tenant()
    path = ROOT / "var" / f"bench-import-{args.rows}.csv"
    started = time.perf_counter()
    write_csv(path, args.rows, args.seed)
    seconds = time.perf_counter() - started
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) in {seconds:.1f} s")
    base_rss = peak_rss_mib()
    kehu = run_kehu(path, tenant.pk, actor)
    kehu["peak_rss_mib"] = round(peak_rss_mib())
    kehu["helper_peak_rss_mib"] = round(helper_peak_rss_mib())
    kehu["plan_ahead"] = not args.no_plan_ahead
    kehu["peak_rss_within_1_gib"] = kehu["peak_rss_mib"] <= 1024
    print("kehu:", kehu)
    xlsx: dict[str, Any] = {}
    if args.xlsx_rows:
        # Into a tenant of its own, so that its rows are created, not matched.
        book = ROOT / "var" / f"bench-import-{args.xlsx_rows}.xlsx"
        write_xlsx(path, book, args.xlsx_rows)
        xlsx_tenant, xlsx_actor = _tenant("bench-xlsx")
        xlsx = run_kehu(book, xlsx_tenant.pk, xlsx_actor)
        xlsx["dry_run_plus_run_s"] = round(xlsx["dry_run_s"] + xlsx["run_s"], 2)
        xlsx["within_15_s"] = xlsx["dry_run_plus_run_s"] <= 15
        xlsx["peak_rss_mib"] = round(peak_rss_mib())
        xlsx["helper_peak_rss_mib"] = round(helper_peak_rss_mib())
        print("kehu xlsx:", xlsx)
    # A second tenant, so django-import-export creates its parties from nothing too.
    other, other_actor = _tenant("bench-die")
    die = run_import_export(path, other.pk, other_actor, args.compare_rows or args.rows)
    print("django-import-export:", die)
    ratio = kehu["run_rows_per_s"] / max(die["rows_per_s"], 1)
    print(f"kehu run / django-import-export: {ratio:.2f}x")
    payload = {
        "database": database_label(args.database_url),
        "machine": machine(),
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "rss_before_import_mib": round(base_rss),
        "kehu": kehu,
        "kehu_xlsx": xlsx,
        "django_import_export": die,
        "kehu_vs_django_import_export": round(ratio, 2),
    }
    out = write_json(f"import-{database_label(args.database_url)}-{args.rows}.json", payload)
    print(f"wrote {out}")


def _tenant(slug: str = "bench-import") -> tuple[Any, Any]:
    from kehu.tenancy.models import Role, Tenant, User, Visibility

    tenant = Tenant.objects.create(name=slug, slug=slug)
    user = User.all_tenants.create(
        tenant=tenant, username=f"{slug}-admin", role=Role.ADMIN, visibility=Visibility.ALL
    )
    return tenant, user


if __name__ == "__main__":
    main()
