"""Pause Python's cyclic garbage collector while a big workbook is read, computed or written.

Reading a 10,000-row table makes hundreds of thousands of small objects (row
matches, cell tuples, row dicts) that all live until the command ends. The
collector would walk them again and again as they pile up, a third of
``retroxl validate``'s time on such a table, and find nothing to free: they form
no reference cycles, and reference counting frees them as usual. Used as a
decorator or a ``with`` block; it restores the collector's previous state.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    if not gc.isenabled():      # already paused by the caller: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
