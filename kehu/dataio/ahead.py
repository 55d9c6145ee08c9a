"""Planning the next batch of an import in a helper process while this one writes.

A batch's time goes in three parts: parsing and checking its rows (`_plan`: pure
Python, nothing read from the database once the target has read the firm's staff),
matching them against the archive, and writing. The first needs no database, so a
forked helper process plans batch n+1 (and, for a run, the pinyin and search keys of the
parties it would create) while this process matches and writes batch n: on two cores
the two overlap. The plans come back pickled; matching, writing and every decision that
depends on earlier rows (the file's duplicates) stay here, in file order, so the
outcomes are the ones planning in this process gives (a test compares both).

The helper never touches the database: it inherits this process's connection objects
but never uses them, and leaves by `os._exit` (multiprocessing's way), so nothing is
closed from its side. It is forked only by the import task (never in a web request's
threads), only for a run (not a dry run: that is mostly planning, and measured the
helper did not pay there) and only for a file of more than one batch.
"""

import multiprocessing
from collections.abc import Sequence
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, Protocol

from django.conf import settings

from kehu.dataio.targets import SourceRow


class PlansAhead(Protocol):
    """A target whose rows can be planned away from the database."""

    def prepare_planning(self) -> None: ...

    def plan_rows(self, rows: Sequence[SourceRow], *, write: bool) -> list[Any]: ...


# The target the helper plans for: set before the fork, so the helper has its own copy.
_TARGET: PlansAhead | None = None


def _plan_batch(rows: Sequence[SourceRow], write: bool) -> list[Any]:
    assert _TARGET is not None
    return _TARGET.plan_rows(rows, write=write)


def enabled(target: object) -> bool:
    return bool(settings.IMPORT_PLAN_AHEAD) and callable(getattr(target, "plan_rows", None))


class Planner:
    """One helper process that plans the batches given to `submit`, one at a time."""

    def __init__(self, target: PlansAhead) -> None:
        global _TARGET
        target.prepare_planning()
        _TARGET = target
        self.pool: Pool = multiprocessing.get_context("fork").Pool(1)

    def submit(self, rows: Sequence[SourceRow], *, write: bool) -> "AsyncResult[list[Any]]":
        return self.pool.apply_async(_plan_batch, (rows, write))

    def close(self) -> None:
        global _TARGET
        self.pool.terminate()
        self.pool.join()
        _TARGET = None
