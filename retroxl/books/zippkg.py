"""An OOXML package (the zip inside .xlsx/.xlsm) edited part by part.

Parts that are not changed are copied as their stored (compressed) bytes, with
their original headers' fields, so they come out byte for byte as they went in;
changed and new parts are deflated at a fixed level with a fixed timestamp. The same
input and the same edits therefore always give the same file.
"""

from __future__ import annotations

import os
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RetroxlError
from .zcodec import ERRORS, zlib

if TYPE_CHECKING:
    from .safety import Package as CheckedPackage

FIXED_TIME = (0 << 11) | (0 << 5) | 0          # 00:00:00
FIXED_DATE = (0 << 9) | (1 << 5) | 1           # 1980-01-01
MAX_PART = 1 << 30                             # refuse parts that inflate beyond 1 GiB
LEVEL = 3       # a fast deflate: a 24 MB sheet part in 0.04 s (zlib-ng, one thread), ~20% larger than level 6
SLICE = 4 << 20  # a big part is deflated in slices of this size on threads (zlib lets go of the GIL)
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


class Package:
    """The parts of one package; ``read``/``write``/``remove`` by part name, then ``save``."""

    def __init__(self, path: str | Path, checked: CheckedPackage | None = None) -> None:
        """``checked``: what :func:`~retroxl.books.safety.check_workbook` returned for this file; the
        parts it inflated and verified are used as they are, not inflated a second time."""
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise RetroxlError(f"{self.path}: not an .xlsx/.xlsm workbook (not a zip package; "
                               "an encrypted or legacy .xls file?)") from None
        self._infos = {i.filename: i for i in self._zip.infolist() if not i.is_dir()}
        self._checked = checked
        self._order = list(self._infos)
        self._new: dict[str, bytes] = {}        # changed or added parts
        self._removed: set[str] = set()

    def close(self) -> None:
        self._zip.close()

    # ------------------------------------------------------------ parts
    def names(self) -> list[str]:
        return [n for n in self._order if n not in self._removed] + [n for n in self._new if n not in self._infos]

    def has(self, name: str) -> bool:
        return name in self._new or (name in self._infos and name not in self._removed)

    def read(self, name: str) -> bytes:
        if name in self._new:
            return self._new[name]
        if name in self._removed or name not in self._infos:
            raise KeyError(name)
        info = self._infos[name]
        if info.file_size > MAX_PART:
            raise RetroxlError(f"{self.path}: part {name} is too large ({info.file_size} bytes)")
        if self._checked is not None:   # the bytes the safety check inflated and verified, if it is this part
            seen = self._checked.parts.get(name)
            data = self._checked.inflated.get(info.header_offset)
            if data is not None and seen is not None and (seen.header_offset, seen.CRC, seen.file_size) == (
                    info.header_offset, info.CRC, info.file_size):
                return data
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, *ERRORS, EOFError, NotImplementedError, RuntimeError) as e:
            raise RetroxlError(f"{self.path}: damaged workbook, cannot read {name} ({e})") from None

    def text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def write(self, name: str, data: bytes | str) -> None:
        self._new[name] = data.encode("utf-8") if isinstance(data, str) else data
        self._removed.discard(name)

    def remove(self, name: str) -> None:
        self._new.pop(name, None)
        if name in self._infos:
            self._removed.add(name)

    def changed(self, name: str, crc: int | None = None) -> bool:
        """Whether a part will be written differently from the original (``crc``: of its new bytes, if known)."""
        if name in self._removed:
            return True
        if name not in self._new:
            return False
        info, data = self._infos.get(name), self._new[name]
        if info is None or info.file_size != len(data):
            return True
        if (zlib.crc32(data) if crc is None else crc) != info.CRC:
            return True
        return data != self._zip.read(name)   # same size and checksum: compare to be sure

    def unused_name(self, pattern: str) -> str:
        """The first ``pattern % n`` (n = 1, 2, …) that is no part yet, e.g. 'xl/comments%d.xml'."""
        n = 1
        while self.has(pattern % n) or (pattern % n) in self._infos:
            n += 1
        return pattern % n

    # ------------------------------------------------------------ saving
    def save(self, dest: str | Path) -> None:
        """Write the package: originals copied raw, the rest deflated, in the original order."""
        centrals: list[bytes] = []
        offset = 0
        with open(self.path, "rb") as src, open(dest, "wb") as out:
            for name in self.names():
                crc = zlib.crc32(self._new[name]) if name in self._new else None
                if name in self._new and self.changed(name, crc):
                    local, central = self._fresh(name, self._new[name], offset, crc)  # type: ignore[arg-type]
                    out.write(local)
                    written = len(local)
                else:
                    written, central = self._raw(src, self._infos[name], offset, out)
                centrals.append(central)
                offset += written
                if offset > 0xFFFFFFFF:
                    raise RetroxlError("the workbook would exceed 4 GB; not supported")
            for central in centrals:
                out.write(central)
            size = sum(len(c) for c in centrals)
            out.write(_END.pack(0x06054B50, 0, 0, len(centrals), len(centrals), size, offset, 0))

    @staticmethod
    def _fresh(name: str, data: bytes, offset: int, crc: int) -> tuple[bytes, bytes]:
        """A changed part deflated: (local header and body, central record)."""
        body = deflate(data)
        local, central = headers(name, zipfile.ZIP_DEFLATED, crc, len(body), len(data), offset)
        return local + body, central

    def _raw(self, src, info: zipfile.ZipInfo, offset: int, out) -> tuple[int, bytes]:
        """Copy one unchanged part's stored bytes; returns (bytes written, central record)."""
        src.seek(info.header_offset)
        head = src.read(30)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            raise RetroxlError(f"{self.path}: damaged workbook (bad header for {info.filename})")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        src.seek(info.header_offset + 30 + name_len + extra_len)
        fname = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        flags = info.flag_bits & ~0x08       # sizes go in the header, no data descriptor
        dos_time = (info.date_time[3] << 11) | (info.date_time[4] << 5) | (info.date_time[5] // 2)
        dos_date = ((info.date_time[0] - 1980) << 9) | (info.date_time[1] << 5) | info.date_time[2]
        local = _LOCAL.pack(0x04034B50, info.extract_version, flags, info.compress_type, dos_time, dos_date,
                            info.CRC, info.compress_size, info.file_size, len(fname), 0) + fname
        out.write(local)
        left = info.compress_size
        while left:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                raise RetroxlError(f"{self.path}: damaged workbook (truncated part {info.filename})")
            out.write(chunk)
            left -= len(chunk)
        central = _CENTRAL.pack(0x02014B50, (info.create_system << 8) | info.create_version, info.extract_version,
                                flags, info.compress_type, dos_time, dos_date, info.CRC, info.compress_size,
                                info.file_size, len(fname), 0, 0, 0, 0, info.external_attr, offset) + fname
        return len(local) + info.compress_size, central


def headers(name: str, method: int, crc: int, compressed: int, size: int, offset: int) -> tuple[bytes, bytes]:
    """A new entry's local header and central directory record, each ending in its name.

    The fixed timestamp, the UTF-8 flag when the name is not ASCII, and the sizes in
    the header (no data descriptor); ``offset`` is where the local header starts.
    """
    fname = name.encode("utf-8")
    flags = 0 if fname.isascii() else 0x800
    local = _LOCAL.pack(0x04034B50, 20, flags, method, FIXED_TIME, FIXED_DATE, crc, compressed, size,
                        len(fname), 0) + fname
    central = _CENTRAL.pack(0x02014B50, 20, 20, flags, method, FIXED_TIME, FIXED_DATE, crc, compressed, size,
                            len(fname), 0, 0, 0, 0, 0, offset) + fname
    return local, central


def deflate(data: bytes) -> bytes:
    """Raw deflate of a part; a big one in slices at once, each ended by a sync flush so that the
    slices' streams joined are one valid stream (as pigz does), and the same bytes every time."""
    def piece(i: int) -> bytes:
        comp = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        last = i + SLICE >= len(data)
        return comp.compress(data[i:i + SLICE]) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    starts = range(0, max(len(data), 1), SLICE)
    if len(starts) == 1:
        return piece(0)
    with ThreadPoolExecutor(min(len(starts), os.cpu_count() or 1)) as pool:
        return b"".join(pool.map(piece, starts))
