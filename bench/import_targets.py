"""Import N interactions and N order lines (two lines an order) through kehu's importer
into a fresh benchmark database; print rows/s of the dry run, the run, and a re-import
of the same file (which must create nothing).

    python bench/import_targets.py --rows 5000 --parties 2000
    python bench/import_targets.py --rows 5000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_targets

The database is dropped and migrated first: its name must contain "bench". The parties
(with a 客户编号 each) and 20 products are written directly; the interactions name their
customer by 客户编号, the orders by name. The import is the real code path: upload,
guessed mapping, dry run, run — the task body called in this process.
"""

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, database_label, machine, setup_django, write_json
from generate import fresh_database
from import_csv import _tenant, peak_rss_mib

KINDS = ["电话", "拜访", "会议", "微信", "邮件"]


def _parties(tenant_id: int, actor: Any, n: int) -> list[str]:
    from kehu.core.context import tenant_scope
    from kehu.dataio.models import ExternalKey
    from kehu.parties.models import Party

    names = [f"基准客户{i:06d}有限公司" for i in range(n)]
    with tenant_scope(tenant_id):
        Party.objects.bulk_create(
            Party(tenant_id=tenant_id, kind="organisation", name=name, owner=actor)
            for name in names
        )
        ids = Party.objects.order_by("pk").values_list("pk", flat=True)
        ExternalKey.objects.bulk_create(
            ExternalKey(tenant_id=tenant_id, source="bench", external_id=f"C{i:06d}", party_id=pk)
            for i, pk in enumerate(ids)
        )
    return names


def _products(tenant_id: int, actor: Any) -> list[str]:
    from decimal import Decimal

    from kehu.core.context import tenant_scope
    from kehu.sales import services

    codes = [f"P-{i:03d}" for i in range(20)]
    with tenant_scope(tenant_id):
        for i, code in enumerate(codes):
            services.product_create(
                actor=actor, code=code, name=f"产品{i}", unit_price=Decimal(100 + i)
            )
    return codes


def write_interactions(path: Path, rows: int, parties: int, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["记录编号", "客户编号", "类型", "主题", "内容", "时间", "时长（分钟）"])
        for i in range(rows):
            day, minute = 1 + i % 28, i % 600
            writer.writerow(
                [
                    f"I{i:07d}",
                    f"C{rng.randrange(parties):06d}",
                    rng.choice(KINDS),
                    f"跟进{i}",
                    "客户询问报价与交期",
                    f"2024年{1 + i % 12}月{day}日 {8 + minute // 60}:{minute % 60:02d}",
                    str(rng.choice((10, 15, 30, 60))),
                ]
            )


def write_orders(
    path: Path, rows: int, names: list[str], codes: list[str], rng: random.Random
) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["订单号", "客户名称", "日期", "产品", "数量", "状态"])
        for i in range(rows):
            number = f"SO{i // 2:07d}"
            head = [rng.choice(names), f"2024-{1 + (i // 2) % 12:02d}-15", "已确认"]
            first = i % 2 == 0
            writer.writerow(
                [
                    number,
                    head[0] if first else "",
                    head[1] if first else "",
                    rng.choice(codes),
                    str(rng.randint(1, 20)),
                    head[2] if first else "",
                ]
            )


def run_target(path: Path, tenant_id: int, actor: Any, target: str) -> dict[str, Any]:
    from django.core.files import File

    from kehu.core.context import tenant_scope
    from kehu.dataio import services

    out: dict[str, Any] = {}
    for attempt in ("first", "again"):
        with tenant_scope(tenant_id), path.open("rb") as handle:
            job = services.import_upload(
                actor=actor, file=File(handle, name=path.name), target=target
            )
            job = services.import_set_mapping(
                actor=actor, job=job, mapping=job.mapping, options={"source": "bench"}
            )
            started = time.perf_counter()
            job = services.import_dry_run(actor=actor, job=job)
            dry = time.perf_counter() - started
            started = time.perf_counter()
            services.import_start(actor=actor, job=job)
            run = time.perf_counter() - started
            job.refresh_from_db()
        rows = job.total_rows or 0
        out[attempt] = {
            "status": job.status,
            "rows": rows,
            "dry_run_rows_per_s": round(rows / dry),
            "run_rows_per_s": round(rows / run),
            "counts": job.counts,
        }
        print(target, attempt, out[attempt])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--parties", type=int, default=2000)
    parser.add_argument(
        "--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-targets.sqlite3'}"
    )
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    os.environ["TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    os.environ["MEDIA_ROOT"] = str(ROOT / "var" / "bench-targets-media")
    fresh_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    tenant, actor = _tenant("bench-targets")
    names = _parties(tenant.pk, actor, args.parties)
    codes = _products(tenant.pk, actor)
    rng = random.Random(args.seed)
    interactions = ROOT / "var" / f"bench-interactions-{args.rows}.csv"
    orders = ROOT / "var" / f"bench-orders-{args.rows}.csv"
    write_interactions(interactions, args.rows, args.parties, rng)
    write_orders(orders, args.rows, names, codes, rng)
    payload = {
        "database": database_label(args.database_url),
        "machine": machine(),
        "parties": args.parties,
        "interactions": run_target(interactions, tenant.pk, actor, "interactions"),
        "orders": run_target(orders, tenant.pk, actor, "orders"),
        "peak_rss_mib": round(peak_rss_mib()),
    }
    out = write_json(
        f"import-targets-{database_label(args.database_url)}-{args.rows}.json", payload
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
