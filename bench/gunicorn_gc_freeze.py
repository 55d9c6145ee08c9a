"""gunicorn settings for `bench/web.py --gc-freeze`: freeze the heap once a worker is ready.

A worker holds ~250,000 long-lived objects (Django, pypinyin's phrase dictionary …).
Every full garbage collection walks them all (~50 ms on the benchmark machine), which
shows up as the slow tail of every page. `gc.freeze()` moves them out of the collector's
sight; this file measures what that would win before kehu adopts it.
"""

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    gc.collect()
    gc.freeze()
