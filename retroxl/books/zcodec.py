"""zlib's API at its fastest here: zlib-ng where it is installed, else the standard library's zlib.

Either writes and reads standard deflate with the same levels, so a file written with
one reads with the other. On the recalc benchmark's 24 MB 表2 part zlib-ng inflates a
quarter faster, deflates (level 3) twice as fast and computes CRC-32 four times as fast
as zlib. Pyodide (xlwings Lite) has no zlib-ng: it keeps zlib.
"""

from __future__ import annotations

import zlib as _stdlib

try:
    from zlib_ng import zlib_ng as zlib
except ImportError:
    zlib = _stdlib

# What inflating a damaged stream raises, here or inside zipfile (which uses the standard zlib).
ERRORS: tuple[type[Exception], ...] = tuple({_stdlib.error, zlib.error})

__all__ = ["zlib", "ERRORS"]
