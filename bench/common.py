"""What the benchmark scripts share: choosing the database and starting Django on it."""

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DEFAULT_SQLITE = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/kehu_bench"
TENANT_SLUG = "bench"
USERNAME_PREFIX = "bench_"
# Sessions are signed with it: the server and the script that writes sessions share it.
SECRET_KEY = os.environ.get("SECRET_KEY", "kehu-bench-only-secret")


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB: VmHWM, which starts afresh at exec.
    (ru_maxrss does not: a child started by a big parent reports the parent's peak.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django(database_url: str) -> None:
    """Point Django at the benchmark database (before anything imports the settings)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def sqlite_path(database_url: str) -> Path:
    return Path(urlparse(database_url).path)


def database_label(database_url: str) -> str:
    return "sqlite" if is_sqlite(database_url) else "postgresql"


def machine() -> dict[str, Any]:
    """The machine and code the figures were taken on."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain")),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def write_json(name: str, payload: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
    return path


def page_bench_arguments(
    description: str, *, database: str, port: int, requests: int = 50
) -> argparse.ArgumentParser:
    """The options every page benchmark on gunicorn takes (reports, board)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default=database)
    parser.add_argument("--port", type=int, default=port, help="8200–8299")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--requests", type=int, default=requests, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=60, help="at most, per endpoint")
    return parser
