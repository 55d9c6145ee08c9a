"""The WSGI application (gunicorn `kehu.wsgi`), warmed up and with its heap frozen."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
application = get_wsgi_application()

# Import every view (and with them pypinyin's dictionaries) now rather than in the first
# request, then move the ~250,000 long-lived objects out of the garbage collector's
# sight: each full collection walked them all, a ~50 ms pause in some request
# (docs/benchmarks.md, Findings). Each gunicorn worker imports this module itself.
get_resolver().url_patterns  # noqa: B018 - the attribute loads the URLconf
gc.collect()
gc.freeze()
