"""A fixed-window rate limiter on Django's cache: at most `limit` hits per `window`
seconds for a key (a client address, a form).

The default cache is per process (locmem): with several web workers each allows
`limit`, so a deployment that needs one count for all sets CACHES to a shared backend
(the database cache or Redis; docs/deploy.md). A window's counter is created with
`add` (atomic where the backend is) and raised with `incr`.
"""

import time

from django.core.cache import cache


def allow(key: str, *, limit: int, window: int, now: float | None = None) -> bool:
    """Count one hit for `key`; False once the window already holds `limit` hits."""
    slot = int((time.time() if now is None else now) // window)
    name = f"ratelimit:{key}:{slot}"
    if cache.add(name, 1, timeout=window):
        return limit >= 1
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this hit opens a new window
        cache.add(name, 1, timeout=window)
        return limit >= 1
    return count <= limit
