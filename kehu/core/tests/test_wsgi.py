"""The WSGI module loads every view before serving and freezes that heap."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = (
    "import gc, json, sys; import kehu.wsgi; "
    "print(json.dumps({'frozen': gc.get_freeze_count(), "
    "'views': 'kehu.parties.views' in sys.modules}))"
)


def test_the_application_heap_is_frozen_with_the_views_loaded() -> None:
    env = {**os.environ, "SECRET_KEY": "wsgi-test", "DEBUG": "0"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["views"] is True
    assert probe["frozen"] > 50_000
