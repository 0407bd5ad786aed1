"""Refuse a file that is not a usable .xlsx before anything parses it.

``check_workbook`` runs first in every command that reads a user's workbook, so a
password-protected file, a legacy .xls, a CSV renamed .xlsx, a damaged or
truncated zip, a zip bomb or a sheet of a million rows gets one clear line instead
of a traceback, minutes of work or gigabytes of memory in openpyxl or
python-calamine. It looks only where a problem can be (benchmarks/bench_collect.py
prints its cost beside a plain python-calamine read):

- counts, sizes and compression ratios come from the zip directory;
- only the parts every reader parses are inflated: the workbook part and its
  relationships, the worksheets, shared strings and styles. Each is inflated once
  (whole up to ``KEEP_BYTES``, else in bounded chunks), and its size and CRC-32 checked
  against the directory, so a damaged part is found here; the others (tables, comments,
  charts…) are checked by whichever reader opens them (zipfile checks CRCs; tables are
  read without an XML parser). The parts inflated whole are handed back
  (:class:`Package`), so collect gives python-calamine, and recalc and validate give
  :class:`~retroxl.books.zippkg.Package`, exactly the bytes that were checked, without
  inflating them twice;
- a DTD (entity expansion is how XML bombs work) can only come before the root
  element: the prolog is read for it, not the whole part;
- a worksheet's used range is bounded from above cheaply (see :func:`_check_sheet`),
  and only a sheet that this does not prove small is walked tag by tag, placing
  every cell as python-calamine does. Hostile files (a far reference in the middle,
  in lower case, in other quotes, or cells without references) are measured right.

Limits (why): a retrospective sheet has tens of rows and the recalc benchmark's has
10,000, so ``MAX_ROWS`` leaves ten times that room. A sheet beyond it is refused,
not read partially: a dense reader (python-calamine) allocates rows × columns for
the used range, and openpyxl's read-only mode pads rows to the declared
dimension, so both the declared dimension and the cells actually present count.
Cell error values (#DIV/0!, #N/A) are not file errors: they become findings.
"""

from __future__ import annotations

import codecs
import functools
import html
import io
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..errors import RetroxlError
from ..layout import col_letter
from .zcodec import ERRORS, zlib
from .zippkg import headers

MAX_ROWS = 100_000              # rows per worksheet, declared or present
MAX_CELLS = 5_000_000           # rows × columns of a worksheet's used range, declared or present
MAX_MEMBERS = 10_000            # parts in the zip
MAX_TOTAL_BYTES = 1 << 30       # uncompressed size of all parts together
MAX_PART_BYTES = 512 << 20      # uncompressed size of one XML part
MAX_RATIO = 200                 # uncompressed ÷ compressed for a part above RATIO_FLOOR
RATIO_FLOOR = 10 << 20          # real sheets measure 2-35×; deflate of zeros reaches ~1000×

_CHUNK = 1 << 20
KEEP_BYTES = 64 << 20           # parts up to this size are inflated in one piece and kept for the reader
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_ENCRYPTED_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_XLS_STREAMS = ("Workbook".encode("utf-16-le"), "Book\x00".encode("utf-16-le"))
_LOCAL_HEADER = struct.Struct("<4s22xHH")     # signature, …, file name length, extra field length
_ENTRY = struct.Struct("<4s4xHH4xLLLHHH8xL")  # central directory: signature, …, flags, method, …, CRC, sizes, …
_END = struct.Struct("<4sHHHHLLH")            # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_PACKAGE_PARTS = ("[Content_Types].xml", "_rels/.rels")
# What zipfile and zlib raise on a damaged zip (a name that is not UTF-8 as flagged included).
_DAMAGED = (zipfile.BadZipFile, *ERRORS, EOFError, NotImplementedError, RuntimeError, UnicodeDecodeError)

_WORKBOOK, _WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"

# Any namespace prefix: python-calamine goes by local names.
_RELATIONSHIP_RE = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")
_SHEET_RE = re.compile(rb"<(?:[\w.-]+:)?sheet\b([^>]*)>")
_ATTRIBUTE_RE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_IRREGULAR = (re.compile(rb'<(?:c|row)(?=[\s/>])(?! r=")'), re.compile(rb':(?:c|row)(?=[\s/>])(?! r=")'))
_DIMENSION_RE = re.compile(rb"""dimension(?<=[<:]dimension)\s+ref\s*=\s*["']([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?""")
_TAG_RE = re.compile(rb"""<(/?)(?:[A-Za-z_][\w.-]*:)?(c|row)(?=[\s/>])((?:[^>"']++|"[^"]*+"|'[^']*+')*+)>""")
_REF_RE = re.compile(rb"""(?<![\w:.-])r\s*=\s*["']([A-Za-z]*)(\d*)""")
_NARROW = {3: 702, 2: 26}       # the widest column of fewer letters: ZZ, Z


@dataclass
class Package:
    """What :func:`check_workbook` learnt of a package, for a reader to use instead of opening it again."""

    path: Path
    data: bytes | None                                       # the file's bytes, if the caller had them
    entries: list[Part]                                      # the zip directory, in order
    parts: dict[str, Part]                                   # the same by name (the last of a name, as zipfile)
    sheets: dict[str, str] = field(default_factory=dict)     # worksheet part → sheet name, in workbook order
    checked: set[int] = field(default_factory=set)           # the entries (by offset) of the parts checked
    inflated: dict[int, bytes] = field(default_factory=dict)  # those of up to KEEP_BYTES, inflated, by offset

    def read(self, name: str) -> bytes:
        """One part's bytes, checked against its recorded size and CRC-32; KeyError if there is none."""
        info = self.parts[name]
        if info.header_offset in self.inflated:
            return self.inflated[info.header_offset]
        try:
            with (open(self.path, "rb") if self.data is None else io.BytesIO(self.data)) as f:
                return b"".join(_inflate(f, info))
        except _DAMAGED as e:
            raise RetroxlError(f"{self.path} is damaged ({_short(e)}); it may be a truncated download or copy") \
                from None

    def checked_zip(self) -> bytes:
        """A zip of the parts that were checked, those inflated here stored as they were checked.

        For python-calamine: it then parses exactly the bytes that were checked,
        whichever way it reads a zip directory, and does not inflate them a second
        time. (Beside them only the package's content types and relationships, by which
        it knows an .xlsx.)
        """
        data = memoryview(self.data if self.data is not None else self.path.read_bytes())
        body: list[bytes | memoryview] = []
        directory: list[bytes] = []
        at = 0
        for e in self.entries:
            if e.header_offset not in self.checked and e.filename not in _PACKAGE_PARTS:
                continue
            if e.header_offset in self.inflated:
                content, method = self.inflated[e.header_offset], zipfile.ZIP_STORED
            else:
                _, name_len, extra_len = _LOCAL_HEADER.unpack_from(data, e.header_offset)
                start = e.header_offset + _LOCAL_HEADER.size + name_len + extra_len
                content, method = data[start:start + e.compress_size], e.compress_type
            local, central = headers(e.filename, method, e.CRC, len(content), e.file_size, at)
            body += (local, content)
            directory.append(central)
            at += len(local) + len(content)
        listing = b"".join(directory)
        end = _END.pack(b"PK\x05\x06", 0, 0, len(directory), len(directory), len(listing), at, 0)
        return b"".join([*body, listing, end])


def check_workbook(path: str | Path, data: bytes | None = None) -> Package:
    """Raise :class:`RetroxlError` with one clear line if ``path`` is not a usable .xlsx/.xlsm.

    ``data``: the file's bytes when the caller has read them already (collect hashes
    them too); otherwise the file is read here. Never writes. Checks, in order: it
    exists and is a file; it is a zip (else: encrypted workbook, legacy .xls,
    text/CSV, unknown); the zip is not a bomb and holds ``xl/workbook.xml``; every
    part a reader parses inflates to its recorded size and checksum, without a DTD;
    no worksheet's used range, declared or present, exceeds ``MAX_ROWS`` rows or
    ``MAX_CELLS`` cells. Returns the :class:`Package` facts it gathered.
    """
    path = Path(path)
    if data is None:
        if not path.exists():
            raise RetroxlError(f"{path}: no such file")
        if path.is_dir():
            raise RetroxlError(f"{path} is a folder, not a workbook")
        with open(path, "rb") as f:
            head = f.read(4096)
    else:
        head = data[:4096]
    if not head:
        raise RetroxlError(f"{path} is empty (0 bytes)")
    if head.startswith(_OLE_MAGIC):
        raise RetroxlError(_ole_message(path, data))
    if not head.startswith(_ZIP_MAGICS):
        raise RetroxlError(_not_zip_message(path, head))
    try:
        with open(path, "rb") if data is None else io.BytesIO(data) as f:
            return _check_zip(path, f, data)
    except _DAMAGED as e:
        raise RetroxlError(f"{path} is damaged ({_short(e)}); it may be a truncated download or copy") from None


def _ole_message(path: Path, data: bytes | None) -> str:
    """An OLE compound file: an encrypted OOXML package, or a legacy binary workbook."""
    if _contains_any(path, data, _ENCRYPTED_STREAMS):
        return (f"{path} is password-protected (encrypted); remove the password in Excel or WPS "
                "(File > Info > Protect Workbook) and save it again")
    if _contains_any(path, data, _XLS_STREAMS):
        return f"{path} is a legacy Excel 97-2003 workbook (.xls); open it in Excel or WPS and save it as .xlsx"
    return f"{path} is an old-format Office document (OLE), not an .xlsx workbook"


def _contains_any(path: Path, data: bytes | None, needles: tuple[bytes, ...]) -> bool:
    """Whether the file holds any of ``needles`` (OLE stream names are UTF-16 in its directory)."""
    if data is not None:
        return any(n in data for n in needles)
    overlap = max(map(len, needles)) - 1
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            buf = tail + chunk
            if any(n in buf for n in needles):
                return True
            tail = buf[-overlap:]
    return False


def _not_zip_message(path: Path, head: bytes) -> str:
    if _looks_like_text(head):
        kind = "an HTML page" if re.match(rb"\s*<(!doctype html|html)", head, re.I) else "a text or CSV file"
        return f"{path} is {kind}, not an Excel workbook; open it in Excel or WPS and save it as .xlsx"
    return f"{path} is not an Excel workbook (.xlsx): unknown file format"


def _looks_like_text(head: bytes) -> bool:
    """UTF-16 with a byte-order mark (Excel's "Unicode text"), or UTF-8 / GBK text without NUL bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)  # a cut last character is fine
            return True
        except UnicodeDecodeError:
            continue
    return False


# ----------------------------------------------------------------- the zip

class Part(NamedTuple):
    """A zip directory entry: what reading and checking a part needs (the names are Part's)."""

    filename: str
    header_offset: int
    compress_size: int
    file_size: int
    CRC: int
    compress_type: int
    flag_bits: int


def _directory(f: BinaryIO) -> list[Part]:
    """The zip's central directory.

    Read here in one pass (zipfile spends more time building its ZipInfo objects than a
    small workbook takes to check); zipfile reads any zip this does not expect: with a
    comment, ZIP64 records, several disks, or damaged (its messages say what is wrong).
    """
    size = f.seek(0, io.SEEK_END)
    if size >= _END.size + _ZIP64_LOCATOR.size:
        f.seek(size - _END.size - _ZIP64_LOCATOR.size)
        tail = f.read()
        locator, end = tail[:4], tail[_ZIP64_LOCATOR.size:]
        magic, disk, cd_disk, here, entries, cd_size, cd_offset, comment = _END.unpack(end)
        concat = size - _END.size - cd_size - cd_offset    # bytes before the zip (zipfile allows them too)
        if (magic == b"PK\x05\x06" and locator != b"PK\x06\x07" and not (disk or cd_disk or comment)
                and here == entries and concat >= 0):
            f.seek(cd_offset + concat)
            cd = f.read(cd_size)
            parts, at = [], 0
            for _ in range(entries):
                if at + _ENTRY.size > len(cd):
                    break
                (magic, flags, method, crc, compressed, inflated, name_len, extra_len, comment_len,
                 offset) = _ENTRY.unpack_from(cd, at)
                if magic != b"PK\x01\x02" or 0xFFFFFFFF in (compressed, inflated, offset):
                    break
                name = cd[at + _ENTRY.size:at + _ENTRY.size + name_len]
                name = name.decode("utf-8" if flags & 0x800 or name.isascii() else "cp437")
                parts.append(Part(name.partition("\0")[0], offset + concat, compressed, inflated, crc, method, flags))
                at += _ENTRY.size + name_len + extra_len + comment_len
            else:
                if at == cd_size:
                    return parts
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        return [Part(i.filename, i.header_offset, i.compress_size, i.file_size, i.CRC, i.compress_type, i.flag_bits)
                for i in zf.infolist()]


def _check_zip(path: Path, f: BinaryIO, data: bytes | None) -> Package:
    infos = _directory(f)
    if len(infos) > MAX_MEMBERS:
        raise RetroxlError(f"{path} has {len(infos):,} parts (limit {MAX_MEMBERS:,}); "
                           "refusing it as a possible zip bomb")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise RetroxlError(f"{path} expands to {_size(total)} (limit {_size(MAX_TOTAL_BYTES)}); "
                           "refusing it as a possible zip bomb")
    for info in infos:
        ratio = info.file_size // max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise RetroxlError(f"{path}: part {info.filename} expands {ratio:,}× to {_size(info.file_size)}; "
                               "refusing it as a zip bomb")
    by_name = {i.filename: i for i in infos}
    if _WORKBOOK not in by_name:
        raise RetroxlError(_not_workbook_message(path, f, by_name))
    for info in infos:
        if info.filename.endswith((".xml", ".rels")) and info.file_size > MAX_PART_BYTES:
            raise RetroxlError(f"{path}: part {info.filename} is {_size(info.file_size)} "
                               f"(limit {_size(MAX_PART_BYTES)} per part)")
    if _WORKBOOK_RELS not in by_name:
        raise RetroxlError(f"{path} is damaged: it has no {_WORKBOOK_RELS}")
    package = Package(path, data, infos, by_name)
    workbook, rels = (_part(path, f, by_name[name], package.inflated) for name in (_WORKBOOK, _WORKBOOK_RELS))
    package.checked.update(by_name[name].header_offset for name in (_WORKBOOK, _WORKBOOK_RELS))
    package.sheets, sheets, parsed = _worksheets(path, workbook, rels, by_name)
    for info in infos:
        if info.header_offset in package.checked:
            continue
        if info.filename in sheets:
            _check_sheet(path, sheets[info.filename], f, info, package.inflated)
        elif info.filename in parsed:
            _part(path, f, info, package.inflated)
        else:
            continue
        package.checked.add(info.header_offset)
    return package


def _not_workbook_message(path: Path, f: BinaryIO, names: dict[str, Part]) -> str:
    if "xl/workbook.bin" in names:
        return f"{path} is a binary workbook (.xlsb); open it in Excel and save it as .xlsx"
    if "mimetype" in names and b"opendocument" in next(_inflate(f, names["mimetype"]), b"")[:100]:
        return f"{path} is an OpenDocument spreadsheet (.ods); open it and save it as .xlsx"
    return f"{path} is a zip file but not an Excel workbook (it has no xl/workbook.xml)"


def _inflate(f: BinaryIO, info: Part) -> Iterator[bytes]:
    """A part's bytes, checked against the zip directory's size and CRC-32 as zipfile checks them.

    zipfile's own reader minus its per-part overhead (most parts here are a few KB): a
    part of up to KEEP_BYTES comes whole and checked (:func:`_whole`); a larger one comes
    in chunks, is stopped as soon as it inflates beyond its recorded size, and is
    checked before its last chunk is handed out.
    """
    if _unusual(info):
        yield from _by_zipfile(f, info)
        return
    if _small(info):
        yield _whole(f, info)
        return
    deflated = _data_start(f, info)
    size = crc = 0
    held = None
    for piece in _pieces(f, info.compress_size, deflated):
        size += len(piece)
        if size > info.file_size:
            raise zipfile.BadZipFile(f"part {info.filename!r} holds more than its recorded size")
        crc = zlib.crc32(piece, crc)
        if held is not None:
            yield held
        held = piece
    yield _checked(info, held or b"", crc, size)


def _small(info: Part) -> bool:
    """Whether a part is inflated in one piece (and kept) rather than in chunks."""
    return info.file_size <= KEEP_BYTES and info.compress_size <= KEEP_BYTES


def _unusual(info: Part) -> bool:
    return bool(info.flag_bits & 0x1) or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _by_zipfile(f: BinaryIO, info: Part) -> Iterator[bytes]:
    """An encrypted part or one compressed otherwise than deflate, read by zipfile (or refused: it says why)."""
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        entry = next(e for e in zf.infolist() if e.header_offset == info.header_offset)
        with zf.open(entry) as src:
            while chunk := src.read(_CHUNK):
                yield chunk


def _whole(f: BinaryIO, info: Part) -> bytes:
    """A small part's bytes, checked (see :func:`_inflate`)."""
    if _unusual(info):
        return b"".join(_by_zipfile(f, info))
    deflated = _data_start(f, info)
    raw = f.read(info.compress_size)
    data = zlib.decompressobj(-15).decompress(raw, info.file_size + 1) if deflated else raw
    return _checked(info, data, zlib.crc32(data))


def _data_start(f: BinaryIO, info: Part) -> bool:
    """Seek ``f`` to the part's compressed data; whether it is deflated (else stored)."""
    f.seek(info.header_offset)
    magic, name_len, extra_len = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size).ljust(_LOCAL_HEADER.size, b"\0"))
    if magic != b"PK\x03\x04":
        raise zipfile.BadZipFile("Bad magic number for file header")
    f.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    return info.compress_type == zipfile.ZIP_DEFLATED


def _checked(info: Part, last: bytes, crc: int, size: int | None = None) -> bytes:
    """``last`` (the part's last chunk) once the part's size and CRC-32 match the directory's."""
    if (len(last) if size is None else size) != info.file_size:
        raise zipfile.BadZipFile(f"part {info.filename!r} does not inflate to its recorded size")
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return last


def _pieces(f: BinaryIO, left: int, deflated: bool) -> Iterator[bytes]:
    """The inflated bytes of ``left`` compressed bytes from ``f``, at most a chunk at a time."""
    inflater = zlib.decompressobj(-15) if deflated else None
    while left > 0:
        raw = f.read(min(left, _CHUNK))
        if not raw:
            raise EOFError("the zip file ends inside a part")
        left -= len(raw)
        while raw:
            out = inflater.decompress(raw, _CHUNK) if inflater else raw
            raw = inflater.unconsumed_tail if inflater else b""
            if out:
                yield out
            if inflater and inflater.eof:
                return
    if inflater and (out := inflater.flush()):
        yield out


def _part(path: Path, f: BinaryIO, info: Part, inflated: dict[int, bytes]) -> bytes:
    """Inflate and check one part a reader parses (a part of up to KEEP_BYTES is kept in ``inflated``)."""
    if _small(info):
        data = inflated[info.header_offset] = _whole(f, info)
        _check_prolog(path, info.filename, data)
        return data
    chunks = _inflate(f, info)
    first = next(chunks, b"")
    _check_prolog(path, info.filename, first, chunks)
    return first + b"".join(chunks) if info.filename in (_WORKBOOK, _WORKBOOK_RELS) else b""


def _check_prolog(path: Path, part: str, first: bytes, rest: Iterable[bytes] = ()) -> bool:
    """Refuse a DTD (entities are how XML bombs work; Excel never writes one) and UTF-16 XML.

    Returns whether the root element was found in ``first`` and ``rest`` was not needed.
    """
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first[:4]:
        raise RetroxlError(f"{path}: part {part} is UTF-16 XML, which Excel never writes; "
                           "open the file in Excel or WPS and save it again")
    dtd = _prolog_has_dtd(first)
    root_found = dtd is not None
    if not root_found:   # no root element in the first chunk: look for a declaration everywhere
        dtd = any(_has_dtd(buf) for buf in _buffers(rest))
    if dtd:
        raise RetroxlError(f"{path}: part {part} declares a DTD, which Excel never writes; refusing it")
    return root_found


def _has_dtd(data: bytes) -> bool:
    return b"<!DOCTYPE" in data or b"<!ENTITY" in data


def _prolog_has_dtd(data: bytes) -> bool | None:
    """Whether a DOCTYPE comes before the root element (None: no root element in ``data``)."""
    at = 3 if data.startswith(codecs.BOM_UTF8) else 0
    while (at := data.find(b"<", at)) >= 0:
        if data.startswith(b"<?", at):
            end, skip = data.find(b"?>", at + 2), 2
        elif data.startswith(b"<!--", at):
            end, skip = data.find(b"-->", at + 4), 3
        else:
            return data.startswith(b"<!", at)   # a declaration before the root: a DTD
        if end < 0:
            return None
        at = end + skip
    return None


def _worksheets(path: Path, workbook: bytes, rels: bytes,
                by_name: dict[str, Part]) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """From the workbook part and its relationships: the sheets and the other parts readers parse.

    Returns worksheet part → sheet name in workbook order, every part a reader may take
    for a sheet (python-calamine resolves targets its own way, ignoring relationship
    types and letter case) → sheet name, and the shared strings and styles parts.
    """
    lower = {name.lower(): name for name in by_name}
    targets: dict[bytes, str] = {}
    parsed = {lower[p] for p in ("xl/sharedstrings.xml", "xl/styles.xml") if p in lower}
    for tag in _RELATIONSHIP_RE.findall(rels):
        rel = _attributes(tag)
        if rel.get(b"TargetMode") != b"External":
            targets[rel.get(b"Id", b"")] = target = _text(rel.get(b"Target", b""))
            if rel.get(b"Type", b"").endswith((b"/sharedStrings", b"/styles")):
                parsed.update(lower[p] for p in _candidates(target) if p in lower)
    sheets: dict[str, str] = {}
    checked: dict[str, str] = {}
    for tag in _SHEET_RE.findall(workbook):
        sheet = _attributes(tag)
        name = _text(sheet.get(b"name", b"?"))
        for key, rid in sheet.items():
            if key.endswith(b":id") and rid in targets:   # r:id (python-calamine also takes relationships:id)
                found = [lower[p] for p in _candidates(targets[rid]) if p in lower]
                for part in found:
                    checked[part] = name
                if found:
                    sheets.setdefault(found[0], name)
    return sheets, checked, parsed


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return {key: v1 or v2 for key, v1, v2 in _ATTRIBUTE_RE.findall(tag)}


def _text(value: bytes) -> str:
    text = value.decode("utf-8", "replace")
    return html.unescape(text) if "&" in text else text


def _candidates(target: str) -> tuple[str, ...]:
    """The part names (lower case) a relationship target from xl/workbook.xml may mean to some reader."""
    if not target.startswith(("/", ".", "xl/")) and "/." not in target and "//" not in target \
            and not target.endswith("/"):
        return (("xl/" + target).lower(),)     # the usual worksheets/sheet1.xml: every reader agrees
    ours = _normalise(target if target.startswith("/") else "xl/" + target).lower()
    calamine = (target[1:] if target.startswith("/xl/") else target if target.startswith("xl/")
                else "xl/" + target).lower()
    return (ours,) if ours == calamine else (ours, calamine)


def _normalise(part: str) -> str:
    """Resolve ``..`` in a part name (targets are relative to xl/)."""
    parts: list[str] = []
    for p in part.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts)


# ----------------------------------------------------------------- worksheet extents

def _buffers(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunks cut before their last '<', so that no tag is split between two buffers (one chunk: as is)."""
    it = iter(chunks)
    carry = next(it, b"")
    for chunk in it:
        buf = carry + chunk
        cut = buf.rfind(b"<")
        if cut > 0:
            yield buf[:cut]
            carry = buf[cut:]
        else:
            carry = buf
    yield carry


def _check_sheet(path: Path, sheet: str, f: BinaryIO, info: Part, inflated: dict[int, bytes]) -> None:
    """Refuse a worksheet whose used range, declared or present, is beyond the limits.

    The cheap pass bounds the used range from above, looking only between the first and
    last mention of sheetData (python-calamine places no cell elsewhere). Rows ascend,
    so the last row tag gives the last row of an honest sheet; one search finds every
    reference to a row from the next leading digit on (the last row 10,003: from
    20,000), or with more column letters than the cell limit leaves room for. A cell or
    row without a reference adds one position and needs its own tag: in a small sheet
    their number bounds what they can add, in a larger one a search shows there are
    none (every spreadsheet writes r="…" first). A sheet this does not prove small
    enough is walked by :func:`_walk`.
    """
    first, prolog_read, irregular = True, True, False
    deepest = widest = 0              # the largest row and column among the references found
    last_row = 0                      # the last row tag so far
    below, narrow = 1, 0              # the references not found stay below row ``below``, within ``narrow`` columns
    whole = _small(info)              # one buffer: the search for tags without r="…" can wait
    buf, lo, hi = b"", 0, 0
    if whole:
        inflated[info.header_offset] = _whole(f, info)
    for buf in (inflated[info.header_offset],) if whole else _buffers(_inflate(f, info)):
        if not prolog_read and _has_dtd(buf):
            raise RetroxlError(f"{path}: part {info.filename} declares a DTD, which Excel never writes; refusing it")
        if first:
            first = False
            prolog_read = _check_prolog(path, info.filename, buf)
            if dim := _DIMENSION_RE.search(buf):
                last_col, declared = (dim[3], dim[4]) if dim[3] else (dim[1], dim[2])
                _check_size(path, sheet, _number(declared), _column_number(last_col), declared=True)
        lo, hi = (max(buf.find(b"sheetData"), 0), buf.rfind(b"sheetData") + 1) if whole else (0, len(buf))
        if (at := buf.rfind(b'<row r="', lo, hi)) >= 0 or (at := buf.rfind(b':row r="', lo, hi)) >= 0:
            at += 8                   # (the last row only chooses what the search below looks for)
            last_row = max(last_row, _number(buf[at:at + 16].partition(b'"')[0]))
        digits = str(max(last_row, 1))
        lead, power = int(digits[0]) + 1, len(digits) - 1         # 10,003 → rows from 2 × 10⁴ on
        # With rows below 1,000 columns up to ZZ stay far within the cell limit; in a sheet of
        # several chunks, rows grow from chunk to chunk: all chunks look for the same columns.
        letters = 3 if whole and power < 3 else 2
        below, narrow = max(below, lead * 10 ** power), max(narrow, _NARROW[letters])
        for col, row in _beyond(lead, power, letters).findall(buf, lo, hi):
            deepest, widest = max(deepest, _number(row)), max(widest, _column_number(col))
        if not whole:
            irregular = irregular or _irregular(buf, 0, len(buf))
    rows, columns = max(deepest, below - 1), max(widest, narrow)
    # Each row or cell element without r="…" moves one row down or one column right: with n tags
    # (n '<', each tag 4 bytes at least: <c/>), rows + a and columns + b where a + b <= n, a product
    # at most ((rows + columns + n) / 2)².
    # The tags are counted only if those of the first chunk leave hope that they are few enough
    # (either way the answer is exact: otherwise _irregular looks at every tag).
    if whole and not _within_adding(rows, columns, (hi - lo) // 4):
        span = max(min(_CHUNK, hi - lo), 1)
        hopeful = _within_adding(rows, columns, buf.count(b"<", lo, lo + span) * (hi - lo) // span // 2)
        irregular = not (hopeful and _within_adding(rows, columns, buf.count(b"<", lo, hi))) \
            and _irregular(buf, lo, hi)
    if not irregular and _within(rows, columns):
        return
    rows, columns = _walk(_buffers((buf,) if whole else _inflate(f, info)))
    _check_size(path, sheet, rows, columns, declared=False)


def _within_adding(rows: int, columns: int, tags: int) -> bool:
    return rows + tags <= MAX_ROWS and (rows + columns + tags) ** 2 <= 4 * MAX_CELLS


def _within(rows: int, columns: int) -> bool:
    return rows <= MAX_ROWS and rows * columns <= MAX_CELLS


def _irregular(buf: bytes, lo: int, hi: int) -> bool:
    """Whether a row or cell tag lacks its leading r="…" (python-calamine then counts positions itself)."""
    return any(p.search(buf, lo, hi) for p in _IRREGULAR)


@functools.lru_cache(maxsize=64)
def _beyond(lead: int, power: int, letters: int) -> re.Pattern[bytes]:
    """References r=… (however quoted and spaced) to a row from ``lead`` × 10**``power`` on, or with at least
    ``letters`` column letters."""
    rows = rb"[1-9]\d{%d}" % (power + 1) if lead == 10 else rb"(?:[%d-9]\d{%d}|[1-9]\d{%d,})" % (lead, power, power + 1)
    # The same matches as r(?<![\w:.-]r)\s*=\s*["'](?=[A-Za-z]{n}|[A-Za-z]*0*ROWS), faster: most r bytes (in
    # formula text) fail at the next byte; nothing the possessive repeats give up could match what follows them.
    return re.compile(rb"""r(?=[\s=])(?<![\w:.-]r)\s*+=\s*+["'](?=[A-Za-z]{%d}|[A-Za-z]*+0*+%s)([A-Za-z]*)(\d*)"""
                      % (letters, rows))


def _walk(buffers: Iterable[bytes]) -> tuple[int, int]:
    """(rows, columns) of the used range, placing cells as python-calamine does.

    A cell is a ``<c>`` element at its r="…", or else just right of the previous cell;
    a row element's r="…" sets the row, and the row's end moves to the next one. An
    empty element (``<c/>``, ``<row/>``) counts as a start and an end, as
    python-calamine expands them. Where a tag repeats r, the largest value counts, and
    an empty cell counts as used (python-calamine may leave it out).
    """
    row = col = rows = columns = 0        # the next cell's 0-based position; the extent so far
    for buf in buffers:
        for closing, name, attrs in _TAG_RE.findall(buf):
            if not closing:
                refs = _REF_RE.findall(attrs)
                if name == b"c":
                    if refs:
                        col = max(_column_number(c) for c, _ in refs) - 1
                    at = max(_number(d) for _, d in refs) - 1 if refs else row
                    rows, columns = max(rows, at + 1), max(columns, col + 1)
                    col += 1
                elif refs:
                    row = max(_number(d) for _, d in refs) - 1
            if name == b"row" and (closing or attrs.endswith(b"/")):
                row, col = row + 1, 0
    return rows, columns


def _check_size(path: Path, sheet: str, rows: int, columns: int, *, declared: bool) -> None:
    """Refuse a used range beyond the limits, as the sheet declares it or as its cells reach."""
    if rows > MAX_ROWS:
        what = f"declares {rows:,} rows" if declared else f"has cells down to row {rows:,}"
        raise RetroxlError(f"{path}: sheet {sheet!r} {what}; retroxl reads at most {MAX_ROWS:,} rows per sheet "
                           "(delete the unused rows or move the data to another file)")
    if rows * columns > MAX_CELLS:
        corner = f"{col_letter(columns - 1)}{rows}"
        what = f"declares a used range up to {corner}" if declared else f"has cells out to {corner}"
        raise RetroxlError(f"{path}: sheet {sheet!r} {what} ({rows * columns:,} cells); retroxl reads at most "
                           f"{MAX_CELLS:,} cells per sheet (delete the unused rows and columns)")


def _number(digits: bytes) -> int:
    """A row number (0 if there is none); absurdly long ones count as too many rows (int() would refuse them)."""
    if not digits.isdigit():
        return 0
    return int(digits) if len(digits) <= 12 else 10 ** 12


def _column_number(letters: bytes) -> int:
    if len(letters) > 6:
        return 26 ** 6
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _size(n: int) -> str:
    if n < 1 << 20:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1 << 20):,.1f} MB" if n < 1 << 30 else f"{n / (1 << 30):,.1f} GB"


def _short(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text[:120]
