"""File names from campaign names: valid on Windows, macOS and Linux, unique, never outside the folder.

A campaign name is free text ("双11/双12 大促", "../../etc", "CON", 300 characters);
the file name made from it is a single path component that every common file
system accepts, and two campaigns never get names that one file system (case-
insensitive on Windows and macOS, NFD on macOS) would take for the same file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Characters Windows forbids (and "/" everywhere) become their full-width twins,
# which every system accepts and which read the same in a Chinese name. "#" and
# "%" are legal but would break the index's hyperlinks (fragment, %-escape).
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in '<>:"/\\|?*#%'})
# Control characters, and the bidirectional controls that could disguise an extension.
_INVISIBLE = re.compile("[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
# Device names Windows reserves, with or without an extension ("con.xlsx" too).
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
                      | {f"{d}{n}" for d in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")})
MAX_STEM_BYTES = 120   # UTF-8 bytes (40 Chinese characters): room for " (n)", ".xlsx" and temp-file marks
# within the 255-byte name limit of ext4 and APFS and NTFS's 255 UTF-16 units.


def safe_stem(name: str, fallback: str = "campaign") -> str:
    """A file-name stem for ``name``: one path component, nothing any system rejects."""
    s = unicodedata.normalize("NFC", str(name))
    s = _INVISIBLE.sub("", _SPACES.sub(" ", s)).translate(_FULL_WIDTH)
    s = s.strip(" .")                          # Windows drops trailing dots/spaces; leading dots hide files
    s = _truncate(s, MAX_STEM_BYTES).rstrip(" .")
    if not s:
        return fallback
    if s.split(".")[0].rstrip(" ").upper() in _RESERVED:
        s = "_" + s
    return s


def _truncate(s: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, cut between characters (never inside a combining sequence)."""
    if len(s.encode()) <= limit:
        return s
    out, size = [], 0
    for ch in s:
        n = len(ch.encode())
        if size + n > limit:
            break
        out.append(ch)
        size += n
    while out and unicodedata.combining(out[-1]):
        out.pop()
    return "".join(out)


def name_key(file_name: str) -> str:
    """What makes two names the same file somewhere: case (Windows, macOS) and normalization (macOS)."""
    return unicodedata.normalize("NFC", file_name).casefold()


class UniqueNames:
    """Hands out distinct file names in a folder: ``双11.xlsx``, then ``双11 (2).xlsx``...

    ``reserved`` names are never handed out (the batch's own index file).
    """

    def __init__(self, suffix: str = ".xlsx", reserved: Iterable[str] = (), fallback: str = "campaign") -> None:
        self.suffix, self.fallback = suffix, fallback
        self._taken = {name_key(n) for n in reserved}

    def take(self, name: str) -> str:
        stem = safe_stem(name, self.fallback)
        candidate, n = stem + self.suffix, 1
        while name_key(candidate) in self._taken:
            n += 1
            mark = f" ({n})"
            candidate = _truncate(stem, MAX_STEM_BYTES - len(mark)).rstrip(" .") + mark + self.suffix
        self._taken.add(name_key(candidate))
        return candidate
