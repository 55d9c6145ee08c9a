"""kehu's settings with plain static file storage, for when collectstatic cannot run.

bench/web.py uses this only if `collectstatic` fails under the real settings (the hashed
manifest storage refuses CSS that names a missing file); it says so when it does. Page
timings do not depend on it: a template's {% static %} is a dictionary lookup either way.
"""

from kehu.settings import *  # noqa: F403
from kehu.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
