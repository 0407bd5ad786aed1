"""Read and edit one worksheet part as bytes, touching only the cells that change.

A workbook another program saved may carry anything in its sheet XML (extension
lists, namespaces we do not know), so the part is never parsed into a tree and
written back: rows and cells are found with patterns, and edits splice new bytes
for just the rows they touch. Everything else stays byte for byte, and a sheet
whose cached values are already right is not rewritten at all.

Speed matters (a 10,000-row table of long formulas is a 20 MB part): a block is
read with one pattern match per row (groups for each cell's attributes, formula and
value) and decoded a column at a time; rows of another shape fall back to parsing
cell by cell. A cached value written down a column replaces just the bytes of the
old value in place (the row pattern's match knows where they are), edits are spliced
into the part in one pass, and a cell that already holds what is written is left
as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import compress, repeat
from operator import is_not

from ..errors import RetroxlError
from ..layout import a1, col_letter
from ..rules import ExcelError
from .base import Formula, Value

_EPOCH = datetime(1899, 12, 30)
_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);")
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")
_BAD_XML_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# A1 references in a formula, for shifting shared formulas (quoted text is skipped).
_A1_IN_FORMULA = re.compile(r"(?<![\w.!\]\[$'])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\w(\[])")
_QUOTED = re.compile(r"(\"[^\"]*\"|'[^']*')")
_T_ATTR = re.compile(rb'\bt="([^"]*)"')
_R_ATTR = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_ROW_R = re.compile(rb'\br="(\d+)"')
_DROP_RT = re.compile(rb'\s*\b(?:r|t)="[^"]*"')
_SPANS = re.compile(rb'\bspans="(\d+):(\d+)"')
_S_ATTR = re.compile(rb'\bs="(\d+)"')
_NUMBER, _SHARED, _STR, _OTHER = 1, 2, 3, 4    # kinds of cells by their attributes
_INF = float("inf")


def col_index(letters: str | bytes) -> int:
    """0-based column of letters such as 'A' or b'AB'."""
    n = 0
    for ch in (letters.decode() if isinstance(letters, bytes) else letters):
        n = n * 26 + ord(ch) - 64
    return n - 1


class _Letters(dict):
    """0-based column index → column letters (bytes), filled as columns are met."""

    def __missing__(self, col: int) -> bytes:
        self[col] = col_letter(col).encode()
        return self[col]


_LETTERS = _Letters()


class _Columns(dict):
    """Column letters (bytes) → 0-based index, filled as letters are met."""

    def __missing__(self, letters: bytes) -> int:
        self[letters] = col_index(letters)
        return self[letters]


_COLUMNS = _Columns()


def parse_ref(ref: str) -> tuple[int, int]:
    m = _REF.fullmatch(ref)
    if not m:
        raise ValueError(ref)
    return int(m.group(2)) - 1, col_index(m.group(1))


def parse_range(ref: str) -> tuple[int, int, int, int]:
    first, _, last = ref.partition(":")
    r0, c0 = parse_ref(first)
    r1, c1 = parse_ref(last or first)
    return r0, c0, r1, c1


def unescape(text: str) -> str:
    """XML entities and OOXML's _xHHHH_ escapes to plain text."""
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    if "_x" in text:
        text = _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _entity(m: re.Match) -> str:
    name = m.group(1)
    if name[0] == "#":
        return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))
    return _ENTITIES[name]


def escape(text: str, attr: bool = False) -> str:
    """Plain text for an element (or attribute): XML entities, _xHHHH_ for characters XML cannot hold."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attr:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return _BAD_XML_CHAR.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def attrs(text: str) -> dict[str, str]:
    return {m.group(1): unescape(m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTR.finditer(text)}


def number_text(x: float) -> str:
    """A number as Excel stores it: shortest round-trip text, integers without '.0'."""
    if isinstance(x, int) or (x.is_integer() and abs(x) < 1e15):
        return str(int(x))
    return repr(float(x))


def serial(d: date) -> float:
    """Excel's serial number of a date (1900 system)."""
    if isinstance(d, datetime):
        delta = d - _EPOCH
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6
    return float((d - _EPOCH.date()).days)


def shift_formula(text: str, dr: int, dc: int) -> str:
    """A shared formula's text as seen from a cell dr rows and dc columns away from its master."""
    if not dr and not dc:
        return text
    out = []
    for i, part in enumerate(_QUOTED.split(text)):
        if i % 2:
            out.append(part)
            continue

        def move(m: re.Match) -> str:
            c_abs, col, r_abs, row = m.groups()
            c = col_index(col) + (0 if c_abs else dc)
            r = int(row) + (0 if r_abs else dr)
            return f"{c_abs}{col_letter(max(c, 0))}{r_abs}{max(r, 1)}"

        out.append(_A1_IN_FORMULA.sub(move, part))
    return "".join(out)


def same_value(old: Value, new: Value) -> bool:
    """Whether a cached value already says ``new`` (numbers equal to 15 significant digits)."""
    if old == new and type(old) is type(new):
        return True
    if isinstance(new, (date, datetime)):
        new = serial(new)
    if isinstance(old, (date, datetime)):
        old = serial(old)
    if isinstance(new, bool) or isinstance(old, bool):
        return type(old) is type(new) and old == new
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        return old == new or abs(old - new) <= 1e-15 * max(abs(old), abs(new)) < _INF   # inf is no neighbour
    if new is None:
        new = ""
    return (old if old is not None else "") == new and type(old if old is not None else "") is type(new)


@dataclass(frozen=True, slots=True)
class _Patterns:
    row: re.Pattern
    cell: re.Pattern        # fast: r first, then f, v, is children
    any_cell: re.Pattern    # any <c> element, with its span
    t: re.Pattern           # <t> text runs of rich text
    rph: re.Pattern         # phonetic runs, not part of the text
    f: re.Pattern
    row_end: bytes
    row_open: bytes
    cell_open: bytes
    prefix: bytes


_PATTERNS: dict[str, _Patterns] = {}


def _patterns(prefix: str) -> _Patterns:
    if prefix not in _PATTERNS:
        q = re.escape(prefix.encode())
        _PATTERNS[prefix] = _Patterns(
            row=re.compile(rb"<" + q + rb"row\b([^>]*?)(/?)>"),
            cell=re.compile(
                rb"<" + q + rb'c r="([A-Z]{1,3})\d+"([^>]*?)(?:/>|>'
                rb"(<" + q + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + q + rb"f>)|)"
                rb"(?:<" + q + rb"v(?:\s[^>]*)?>([^<]*)</" + q + rb"v>|<" + q + rb"v\s*/>|)"
                rb"(?:<" + q + rb"is>(.*?)</" + q + rb"is>|)</" + q + rb"c>)", re.S),
            any_cell=re.compile(rb"<" + q + rb"c\b([^>]*?)(?:/>|>(.*?)</" + q + rb"c>)", re.S),
            t=re.compile(rb"<" + q + rb"t(?:\s[^>]*)?>(.*?)</" + q + rb"t>", re.S),
            rph=re.compile(rb"<" + q + rb"rPh\b.*?</" + q + rb"rPh>", re.S),
            f=re.compile(rb"<" + q + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + q + rb"f>)", re.S),
            row_end=b"</" + prefix.encode() + b"row>",
            row_open=b"<" + prefix.encode() + b"row",
            cell_open=b"<" + prefix.encode() + b"c",
            prefix=prefix.encode(),
        )
    return _PATTERNS[prefix]


_ROW_PATTERNS: dict[tuple[str, int, int], re.Pattern] = {}


def _row_pattern(prefix: str, c0: int, c1: int) -> re.Pattern:
    """One row whose cells all sit in columns c0..c1, in the usual shape, one group set per column.

    Groups: 1 the row number, 2 the row's other attributes; per column j from 3 + 3j:
    the cell's attributes (None: no cell), its <f> text and <v> text; last, an empty
    group that matches when some cell has another shape (inline text, a shared
    formula…: that row is parsed cell by cell). Nothing in it can run past the end of
    its row; a self-closing row ends the match at its start tag, as the last group.
    """
    key = (prefix, c0, c1)
    if key not in _ROW_PATTERNS:
        q = re.escape(prefix.encode())
        # Optional parts are written (?:X|), not (?:X)?: the same matches, and re runs them twice as fast.
        cells = b"".join(
            rb"(?:<" + q + rb'c r="' + col_letter(c).encode() + rb'\d+"([^>/]*)(?:>(?:<' + q + rb"f>([^<]*)</" + q
            + rb"f>|)(?:<" + q + rb"v>([^<]*)</" + q + rb"v>|)</" + q + rb"c>|/>)|)" for c in range(c0, c1 + 1))
        _ROW_PATTERNS[key] = re.compile(rb"<" + q + rb'row r="(\d+)"([^>]*)>(?:' + cells + rb"</" + q + rb"row>|())")
    return _ROW_PATTERNS[key]


def _texts_of(items: Sequence[bytes], prefix: str) -> list[str]:
    """Many XML texts (none empty) decoded at once: ``prefix`` + the plain text of each."""
    joined = b"\n".join(items)
    if b"&" in joined or b"_x" in joined or joined.count(b"\n") != len(items) - 1:   # escapes: one by one
        return [prefix + unescape(t.decode()) for t in items]
    return [prefix + t for t in joined.decode().split("\n")]


def from_serial(x: float) -> Value:
    """A date-formatted number as a date (a datetime when it has a time of day); out of range: the number."""
    if not 0 < x < 2958466:
        return x
    days = int(x)
    base = _EPOCH if x >= 61 else _EPOCH + timedelta(days=1)   # Excel counts a 29 Feb 1900 that never was
    seconds = round((x - days) * 86400)
    if not seconds:
        return (base + timedelta(days=days)).date()
    return base + timedelta(days=days, seconds=seconds)


@dataclass(slots=True)
class Row:
    index: int
    start: int          # the <row …> start tag
    inner: int          # first byte after the start tag
    end: int            # first byte after </row> (or after <row …/>)
    close: int          # where </row> starts (== end for <row …/>)
    cells: dict[int, tuple] | None = None   # col → parsed cell, all of them, filled on first use
    found: dict[int, tuple | None] | None = None   # col → parsed cell, looked up one by one


class SheetXml:
    """One worksheet part: a lazy row index, cell edits kept aside until :meth:`render`."""

    def __init__(self, data: bytes, shared_strings, date_styles: frozenset[int] = frozenset()) -> None:
        self.data = data
        self._sst = shared_strings           # a list, or a function that reads it when first needed
        self.date_styles = date_styles       # cell style indices whose number format shows a date
        m = re.search(rb"<(\w+:)?worksheet\b", data[:4096])
        if not m:
            raise RetroxlError("a worksheet part is not a worksheet")
        self.p = (m.group(1) or b"").decode()
        self.head = data[:4096].decode("utf-8", "replace")
        self.pat = _patterns(self.p)
        q = re.escape(self.p.encode())
        sd = re.search(rb"<" + q + rb"sheetData\s*/>|<" + q + rb"sheetData\b[^>]*>", data)
        if not sd:
            raise RetroxlError("a worksheet part has no sheetData")
        if sd.group(0).endswith(b"/>"):
            self._inner: tuple[int, int] | None = None
            self._data_end = sd.end()
        else:
            close = data.rfind(b"</" + self.p.encode() + b"sheetData>", sd.end())   # (near the end: found at once)
            if close < 0:
                raise RetroxlError("a worksheet part is damaged (sheetData not closed)")
            self._inner = (sd.end(), close)
            self._data_end = close + len(b"</" + self.p.encode() + b"sheetData>")
        self._data_start = sd.start()
        self._tail0 = data[self._data_end:].decode("utf-8")
        self.tail = self._tail0          # everything after sheetData: edited in place by the book
        self._rows: dict[int, Row] | None = None
        self._shared: dict[str, tuple[int, int, str]] | None = None
        self._unshared: set[str] = set()
        self._escaped: dict[str, bytes] = {}   # formula text → escaped bytes (a column repeats one text)
        self._texts: dict[bytes, str] = {}     # and back
        self._t_of: dict[bytes, str] = {}
        self._kept: dict[bytes, bytes] = {}
        self._kinds: dict[bytes | None, int] = {}   # cell attributes → how its value reads (_NUMBER, _SHARED, …)
        self._fast: dict[int, tuple] = {}    # row → (its row-pattern match, first col, width, formulas read, index)
        self._fast_recs: dict[int, Row] = {}
        self.edits: dict[int, dict[int, bytes]] = {}   # row → col → new <c> element
        self._patches: dict[tuple[int, int], list[tuple[int, int, int, bytes]]] = {}   # (row, col) → in-cell splices

    @property
    def sst(self) -> list[str]:
        if callable(self._sst):
            self._sst = self._sst()
        return self._sst

    # ------------------------------------------------------------ index
    @property
    def rows(self) -> dict[int, Row]:
        if self._rows is None:
            self._rows = {}
            if self._inner:
                data, row_end = self.data, self.pat.row_end
                start, stop = self._inner
                heads = list(self.pat.row.finditer(data, start, stop))
                ends = [m.start() for m in re.compile(re.escape(row_end)).finditer(data, start, stop)]
                if len(ends) != sum(1 for m in heads if not m.group(2)):
                    raise RetroxlError("a worksheet part is damaged (a row is not closed)")
                implied, k = 0, 0
                for m in heads:
                    r = _ROW_R.search(m.group(1))
                    implied = int(r.group(1)) - 1 if r else implied
                    if m.group(2):
                        rec = Row(implied, m.start(), m.end(), m.end(), m.end())
                    else:
                        close = ends[k]
                        k += 1
                        rec = Row(implied, m.start(), m.end(), close + len(row_end), close)
                    self._rows[implied] = rec
                    implied += 1
        return self._rows

    def _cells(self, rec: Row) -> dict[int, tuple]:
        """col → (col, attrs, f element, f attrs, f text, v text, is inner, start, end) of each cell of a row."""
        if rec.cells is None:
            data, lo, hi = self.data, rec.inner, rec.close
            cols = _COLUMNS
            found = [(cols[m[1]], m[2], m[3] or b"", m[4] or b"", m[5] or b"", m[6] or b"", m[7] or b"",
                      m.start(), m.end()) for m in self.pat.cell.finditer(data, lo, hi)]
            if len(found) != self._opens(lo, hi):
                found = self._cells_slow(rec)
            rec.cells = {c[0]: c for c in found}
        return rec.cells

    def _opens(self, lo: int, hi: int) -> int:
        """How many <c> elements start in data[lo:hi] (rich text runs hold <color>, <charset>, <condense>)."""
        data, opener = self.data, self.pat.cell_open
        n = data.count(opener, lo, hi)
        if n and (data.count(opener + b"o", lo, hi) or data.count(opener + b"h", lo, hi)):
            n -= data.count(opener + b"o", lo, hi) + data.count(opener + b"h", lo, hi)
        return n

    def _cells_slow(self, rec: Row) -> list[tuple]:
        """Any cell layout (no r attribute, other child order): parsed one by one."""
        out = []
        implied = 0
        p = re.escape(self.p.encode())
        for m in self.pat.any_cell.finditer(self.data, rec.inner, rec.close):
            a, inner = m.group(1), m.group(2) or b""
            r = _R_ATTR.search(a)
            implied = col_index(r.group(1)) if r else implied
            f = self.pat.f.search(inner)
            v = re.search(rb"<" + p + rb"v(?:\s[^>]*)?>([^<]*)</", inner)
            i = re.search(rb"<" + p + rb"is>(.*?)</" + p + rb"is>", inner, re.S)
            out.append((implied, a, f.group(0) if f else b"", f.group(1) if f else b"", (f.group(2) or b"") if f else b"",
                        v.group(1) if v else b"", i.group(1) if i else b"", m.start(), m.end()))
            implied += 1
        return out

    def extent(self) -> tuple[int, int]:
        rows = cols = 0
        for r, rec in self.rows.items():
            if rec.close > rec.inner:
                cells = [c for c in self._cells(rec).values() if c[2] or c[5] or c[6]]
                if cells:
                    rows = max(rows, r + 1)
                    cols = max(cols, max(c[0] for c in cells) + 1)
        return rows, cols

    # ------------------------------------------------------------ reading
    def block(self, r0: int, c0: int, r1: int, c1: int) -> tuple[list[list[Value]], list[list[str | None]]]:
        """Values and formulas of a block, one list per row, ``None`` where a cell is empty or holds no formula."""
        values, formulas = self.columns(r0, c0, r1, c1)
        return [list(r) for r in zip(*values)], [list(r) for r in zip(*formulas)]

    def columns(self, r0: int, c0: int, r1: int, c1: int) -> tuple[list[list[Value]], list[list[str | None]]]:
        """Values and formulas of a block, one list per column.

        Rows whose cells all have the usual shape (a reference first, then ``<f>``
        and ``<v>`` children, nothing outside the block's columns) are read with one
        pattern match per row and decoded a column at a time; any other row is parsed
        cell by cell.
        """
        width, height = c1 - c0 + 1, r1 - r0 + 1
        scanned = self._scan(r0, c0, r1, c1)
        if scanned is None:     # rows without a reference, or out of order: go by the row index
            good, slow = [], [rec for r, rec in self.rows.items() if r0 <= r <= r1 and rec.close > rec.inner]
        else:
            good, slow = scanned
        values, formulas = self._decode_rows(good, c0, width)
        if len(good) != height or good[0][0] != r0:   # rows missing or read cell by cell: place each
            at = [r - r0 for r, _ in good]
            vcols: list[list[Value]] = [[None] * height for _ in range(width)]
            fcols: list[list[str | None]] = [[None] * height for _ in range(width)]
            for j in range(width):
                for k, v, f in zip(at, values[j], formulas[j]):
                    vcols[j][k], fcols[j][k] = v, f
            value, formula, cells_of = self._value, self._formula, self._cells
            for rec in slow:
                for col, cell in cells_of(rec).items():
                    if c0 <= col <= c1:
                        vcols[col - c0][rec.index - r0] = value(cell)
                        if cell[2]:
                            fcols[col - c0][rec.index - r0] = formula(rec.index, cell)
            values, formulas = vcols, fcols
        return values, formulas

    def _scan(self, r0: int, c0: int, r1: int, c1: int) -> tuple[list[tuple[int, re.Match]], list[Row]] | None:
        """The rows r0..r1 in one pass of the row pattern: (row, match) of each row it reads, and the other rows.

        None when the rows are not numbered in order (the caller then uses the row index).
        """
        if self._inner is None:
            return [], []
        data, opener = self.data, self.pat.row_open
        good: list[tuple[int, re.Match]] = []
        slow: list[Row] = []
        last, prev_end = -1, self._inner[0]
        fast_width = 3 + 3 * (c1 - c0 + 1)
        for m in _row_pattern(self.p, c0, c1).finditer(data, *self._inner):
            if m.start() != prev_end and data.find(opener, prev_end, m.start()) >= 0:   # a row the pattern missed
                return None
            r = int(m[1]) - 1
            if r <= last:
                return None
            last = r
            if r > r1:
                break
            if m.start(fast_width) < 0:            # every cell in the usual shape
                prev_end = m.end()
                if r >= r0:
                    good.append((r, m))
            elif m[2].endswith(b"/"):              # <row …/>: no cells
                prev_end = m.end()
            else:
                close = data.find(self.pat.row_end, m.end())
                if close < 0:
                    raise RetroxlError("a worksheet part is damaged (a row is not closed)")
                prev_end = close + len(self.pat.row_end)
                if r >= r0:
                    rec = self._fast_recs[r] = Row(r, m.start(), m.end(), prev_end, close)
                    slow.append(rec)
        return good, slow

    def _rec(self, row: int) -> Row | None:
        """The row record of ``row``: from the row pattern's match when it read the row, else the row index."""
        rec = self._fast_recs.get(row)
        if rec is not None:
            return rec
        hit = self._fast.get(row)
        if hit is None:
            return self.rows.get(row)
        m = hit[0]
        rec = self._fast_recs[row] = Row(row, m.start(), m.end(2) + 1, m.end(), m.end() - len(self.pat.row_end))
        return rec

    def _decode_rows(self, good: list[tuple[int, re.Match]], c0: int,
                     width: int) -> tuple[list[list[Value]], list[list[str | None]]]:
        """Values and formulas, per column, of the rows the row pattern matched."""
        if not good:
            return [[] for _ in range(width)], [[] for _ in range(width)]
        groups = list(zip(*(m.groups() for _, m in good)))
        kinds, texts, decode, sst = self._kinds, self._texts, self._decode, self.sst
        values, formulas = [], []
        for j in range(width):
            attrs_, fs, vs = groups[2 + 3 * j], groups[3 + 3 * j], groups[4 + 3 * j]
            for a in set(attrs_) - kinds.keys():
                self._kind(a)
            kind = {kinds.get(a) for a in set(attrs_)}
            try:   # the usual cells decoded inline: numbers, shared strings, formulas' text results
                if kind == {_NUMBER}:
                    values.append([float(v) if v else None for v in vs])
                elif kind == {_SHARED}:
                    values.append([sst[int(v)] if v else None for v in vs])
                elif kind == {_STR} and all(fs) and all(vs):    # formulas' text results (the dashboard's labels)
                    values.append(_texts_of(vs, ""))
                else:
                    values.append([(float(v) if v else None) if (k := kinds.get(a)) == _NUMBER
                                   else (sst[int(v)] if v else None) if k == _SHARED
                                   else (unescape(v.decode()) if v else "" if f else None) if k == _STR
                                   else decode(a, f, v) for a, f, v in zip(attrs_, fs, vs)])
            except (ValueError, IndexError):
                values[j:] = [[decode(a, f, v) for a, f, v in zip(attrs_, fs, vs)]]
            f0 = next((f for f in fs if f), None)
            same = fs.count(f0) if f0 is not None else 0
            if f0 is None:
                formulas.append([None] * len(fs))
            elif same * 2 > len(fs):     # a table column repeating one formula: compared, not hashed, cell by cell
                t0 = texts[f0] if f0 in texts else self._text(f0)
                formulas.append([t0] * len(fs) if same == len(fs) else
                                [t0 if f == f0 else None if not f else texts[f] if f in texts else self._text(f)
                                 for f in fs])
            elif all(fs) and len(set(fs)) * 4 >= len(fs):     # a text per row (the dashboard's): decoded at once
                formulas.append(_texts_of(fs, "="))
            else:
                formulas.append([None if not f else texts[f] if f in texts else self._text(f) for f in fs])
        for k, (r, m) in enumerate(good):      # what writes need: the match, and the formulas as read
            self._fast[r] = (m, c0, width, formulas, k)
        return values, formulas

    def _decode(self, a: bytes | None, f: bytes | None, v: bytes | None) -> Value:
        """One cell's value from its attributes and children (None: the cell is absent)."""
        if a is None:
            return None
        return self._value((0, a, b"<f" if f else b"", b"", f or b"", v or b"", b""))

    def _kind(self, a: bytes | None) -> None:
        """How the value of a cell with attributes ``a`` reads: _NUMBER, _SHARED, _STR or _OTHER."""
        t = _T_ATTR.search(a) if a is not None else None
        t = t.group(1) if t else b"n"
        self._kinds[a] = (_OTHER if a is None else _NUMBER if t == b"n" and not self._date_style(a)
                          else _SHARED if t == b"s" else _STR if t == b"str" else _OTHER)

    def _text(self, f: bytes) -> str:
        text = self._texts[f] = "=" + unescape(f.decode())
        return text

    def _date_style(self, a: bytes) -> bool:
        if not self.date_styles or b's="' not in a:
            return False
        m = _S_ATTR.search(a)
        return bool(m) and int(m.group(1)) in self.date_styles

    def _value(self, cell: tuple) -> Value:
        a, v, inline = cell[1], cell[5], cell[6]
        t = _T_ATTR.search(a).group(1) if b't="' in a else b"n"
        if t == b"inlineStr":
            return self._rich_text(inline)
        if not v:
            return "" if t == b"str" and cell[2] else None
        if t == b"n":
            try:
                x = float(v)
            except ValueError:
                return unescape(v.decode())
            return from_serial(x) if self._date_style(a) else x
        if t == b"s":
            try:
                return self.sst[int(v)]
            except (ValueError, IndexError):
                return None
        if t == b"str":
            return unescape(v.decode())
        if t == b"b":
            return v.strip() in (b"1", b"true")
        if t == b"e":
            return ExcelError(unescape(v.decode()))
        return unescape(v.decode())   # t="d" (ISO date text) or something unknown: keep the text

    def _rich_text(self, inner: bytes) -> str:
        if b"rPh" in inner:
            inner = self.pat.rph.sub(b"", inner)
        return "".join(unescape(t.decode()) for t in self.pat.t.findall(inner))

    def _formula(self, row: int, cell: tuple) -> str | None:
        f_attrs, f_text = cell[3], cell[4]
        if not f_attrs:              # a plain formula; a table column repeats one text
            text = self._texts.get(f_text)
            if text is None:
                text = self._texts[f_text] = "=" + unescape(f_text.decode())
            return text
        if b'shared' in f_attrs:
            a = attrs(f_attrs.decode())
            if a.get("t") == "shared" and "ref" not in a:
                master = self.shared_masters().get(a.get("si", ""))
                if master is None:
                    return None
                mr, mc, text = master
                return "=" + shift_formula(text, row - mr, cell[0] - mc)
        return "=" + unescape(f_text.decode())

    def shared_masters(self) -> dict[str, tuple[int, int, str]]:
        """Shared formula groups: si → (row, col, text) of the cell that holds the text."""
        if self._shared is None:
            self._shared = {}
            if b't="shared"' in self.data:
                for r, rec in self.rows.items():
                    for col, cell in self._cells(rec).items():
                        if b"ref=" in cell[3]:
                            a = attrs(cell[3].decode())
                            if a.get("t") == "shared":
                                self._shared[a.get("si", "")] = (r, col, unescape(cell[4].decode()))
        return self._shared

    def _cell(self, row: int, col: int, ref: bytes | None = None) -> tuple | None:
        rec = self._rec(row)
        if rec is None:
            return None
        if rec.cells is not None:
            return rec.cells.get(col)
        if rec.found is None:
            rec.found = {}
        if col in rec.found:
            return rec.found[col]
        fast = self._fast.get(row)
        if fast is not None:   # read by the row pattern: the row holds no other cells than the match's
            m, g = fast[0], 3 + 3 * (col - fast[1])
            if not 0 <= col - fast[1] < fast[2] or m.start(g) < 0:
                rec.found[col] = None
                return None
            cell = rec.found[col] = self._matched_cell(m, g, col)
            return cell
        # one cell, found by its reference: cheaper than parsing a whole row of long formulas
        ref = ref or a1(row, col).encode()
        pos = self.data.find(self.pat.cell_open + b' r="' + ref + b'"', rec.inner, rec.close)
        m = self.pat.cell.match(self.data, pos, rec.close) if pos >= 0 else None
        if m is None:
            return self._cells(rec).get(col)
        cell = rec.found[col] = (col, m[2], m[3] or b"", m[4] or b"", m[5] or b"", m[6] or b"", m[7] or b"",
                                 m.start(), m.end())
        return cell

    def _matched_cell(self, m: re.Match, g: int, col: int) -> tuple:
        """The parsed cell (as :meth:`_cells` gives it) of the row pattern's groups from ``g``."""
        data, p = self.data, self.pat.prefix
        a0, a1_ = m.span(g)
        start = data.rfind(self.pat.cell_open + b' r="', m.start(), a0)
        f0, f1 = m.span(g + 1)
        v1 = m.end(g + 2)
        if v1 >= 0:
            end = v1 + 8 + 2 * len(p)                # </v></c>
        elif f1 >= 0:
            end = f1 + 8 + 2 * len(p)                # </f></c>
        else:
            end = a1_ + 2 if data[a1_:a1_ + 2] == b"/>" else a1_ + 5 + len(p)    # /> or ></c>
        f_elem = data[f0 - 3 - len(p):f1 + 4 + len(p)] if f0 >= 0 else b""
        return (col, m[g], f_elem, b"", m[g + 1] or b"", m[g + 2] or b"", b"", start, end)

    # ------------------------------------------------------------ writing
    def put(self, row: int, col: int, value: Value | Formula) -> None:
        """Set one cell's content, keeping its style and other attributes; no edit if it already says this."""
        self._patches.pop((row, col), None)
        old = self._cell(row, col)
        p = self.pat.prefix
        if isinstance(value, Formula):
            f = self._formula_element(row, old, value.text)
            t, v = formula_value(value.value)
            if old is not None and f == old[2] and self._says(old, t, v, value.value):
                return
            body = f + b"<" + p + b"v>" + v.encode() + b"</" + p + b"v>"
        else:
            if old is None and value in (None, ""):
                return
            if old is not None and not old[2] and same_value(self._value(old), value):
                return
            t, v = stored(value)
            if t == "inlineStr":
                space = b' xml:space="preserve"' if v != v.strip() else b""  # type: ignore[union-attr]
                body = (b"<" + p + b"is><" + p + b"t" + space + b">" + v.encode() + b"</"  # type: ignore[union-attr]
                        + p + b"t></" + p + b"is>")
            else:
                body = b"<" + p + b"v>" + v.encode() + b"</" + p + b"v>" if v not in (None, "") else b""
        keep = self._keep(old[1]) if old else b""
        head = b"<" + p + b'c r="' + _LETTERS[col] + b"%d" % (row + 1) + b'"' + keep + (
            b' t="' + t.encode() + b'"' if t else b"")
        self.edits.setdefault(row, {})[col] = head + (b">" + body + b"</" + p + b"c>" if body else b"/>")

    def put_formulas(self, row0: int, col: int, texts: Sequence[str | None], values: Sequence[Value]) -> None:
        """Formulas (``texts``, None: leave the cell alone) with cached ``values``, down one column.

        A cell read by the row pattern that keeps the formula it was read with gets
        only its cached value (and type) replaced in place; any other goes through
        :meth:`put`.
        """
        n, fast, edits, patched = len(texts), self._fast, self.edits, self._patches
        hits = [fast.get(r) for r in range(row0, row0 + n)]
        first = next((h for h in hits if h is not None), None)
        j = col - first[1] if first is not None else -1
        if first is None or not 0 <= j < first[2]:
            first, j = None, 0
        # Cells of rows one block read: each that keeps the formula it was read with gets its new cached value
        # (numbers formatted inline) spliced over the old one. Any other cell goes through put().
        block, read, g = (first[3], first[3][j], 3 + 3 * j) if first is not None else (None, None, 0)
        gv = g + 2
        p, t_of = self.pat.prefix, self._t_of
        for r, text, value, hit in compress(zip(range(row0, row0 + n), texts, values, hits),
                                            map(is_not, texts, repeat(None))):
            if hit is None or hit[3] is not block or text != read[hit[4]] or r in edits and col in edits[r]:  # type: ignore[index]
                self.put(r, col, Formula(text, value))   # type: ignore[arg-type]
                continue
            m = hit[0]  # type: ignore[index]
            a, v = m.group(g, gv)
            if type(value) is float and -_INF < value < _INF:      # numbers formatted inline: most cells
                new = b"%d" % value if value.is_integer() and -1e15 < value < 1e15 else b"%r" % value
                t = ""
            else:
                t, cached = formula_value(value)
                new = cached.encode()
            old_t = t_of.get(a)
            if old_t is None:
                old_t = self._t(a)
            if v == new and old_t == t or v is None and not new and old_t in ("", "str"):
                continue        # (a formula without a cached value already shows an empty result, as put() sees)
            if v is not None:
                start, end = m.span(gv)
                patches = [(start, end, 0, new)]
            else:       # no cached value yet: one after </f>
                at = m.end(g + 1) + 4 + len(p)
                patches = [(at, at, 0, b"<" + p + b"v>" + new + b"</" + p + b"v>")]
            if old_t != t:
                patches.append((m.start(g), m.end(g), 0, self._keep(a) + (b' t="' + t.encode() + b'"' if t else b"")))
            patched[(r, col)] = patches

    def _says(self, old: tuple, t: str, v: str, value: Value) -> bool:
        """Whether a formula cell's cached value already is ``value`` (stored as ``t``, ``v``)."""
        old_t = self._t(old[1])
        if old[5] == v.encode() and old_t == t:
            return True
        if type(value) is float and not old_t and old[5] and not self._date_style(old[1]):
            try:   # two numbers: compare them without decoding the cell
                return same_value(float(old[5]), value)
            except ValueError:
                pass
        return same_value(self._value(old), _cached(value))

    def _t(self, a: bytes) -> str:
        """The t attribute of a cell's attributes ("" when it has none)."""
        t = self._t_of.get(a)
        if t is None:
            m = _T_ATTR.search(a)
            t = self._t_of[a] = m.group(1).decode() if m else ""
        return t

    def _keep(self, a: bytes) -> bytes:
        """A cell's attributes without r and t (the style and anything else stay)."""
        keep = self._kept.get(a)
        if keep is None:
            keep = self._kept[a] = _DROP_RT.sub(b"", a)
        return keep

    def _formula_element(self, row: int, old: tuple | None, text: str) -> bytes:
        """The <f> to write: the existing one when its text already says this, else a plain one."""
        if old is not None and old[2] and not old[3] and self._texts.get(old[4]) == text:
            return old[2]        # the same plain formula as read: keep its bytes
        body = text[1:] if text.startswith("=") else text
        escaped = self._escaped.get(body)
        if escaped is None:
            escaped = self._escaped[body] = escape(body).encode()
        if old is not None and old[2] and not old[3] and old[4] == escaped:
            return old[2]        # the same plain formula: keep its bytes
        plain = b"<" + self.p.encode() + b"f>" + escaped + b"</" + self.p.encode() + b"f>"
        if old is None or not old[2]:
            return plain
        a = attrs(old[3].decode()) if old[3] else {}
        shared = a.get("t") == "shared"
        if self._formula(row, old) == "=" + body and not (shared and a.get("si") in self._unshared):
            return old[2]
        if shared and "ref" in a:
            self._unshare(a.get("si", ""))
        return plain

    def _unshare(self, si: str) -> None:
        """Give every cell of a shared formula group its own formula (its master is being rewritten)."""
        self._unshared.add(si)
        p = self.p.encode()
        for r, rec in self.rows.items():
            for cell in self._cells(rec).values():
                if not cell[2] or b"ref=" in cell[3] or attrs(cell[3].decode()).get("si") != si:
                    continue
                own = self._formula(r, cell)
                if own is None:
                    continue
                plain = b"<" + p + b"f>" + escape(own[1:]).encode() + b"</" + p + b"f>"
                current = self.edits.get(r, {}).get(cell[0])
                if current is None:
                    current = self._original_cell(rec, cell[0])
                if current is not None and cell[2] in current:
                    self.edits.setdefault(r, {})[cell[0]] = current.replace(cell[2], plain, 1)

    def _spans(self, rec: Row) -> list[tuple[int, int, int]]:
        """(col, start, end) of every cell element of a row."""
        return [(c[0], c[7], c[8]) for c in self._cells(rec).values()]

    def _original_cell(self, rec: Row, col: int) -> bytes | None:
        for c, s, e in self._spans(rec):
            if c == col:
                return self.data[s:e]
        return None

    @property
    def changed(self) -> bool:
        return bool(self.edits) or bool(self._patches) or self.tail != self._tail0

    def render(self) -> bytes:
        """The part with every cell edit and the edited tail."""
        if not self.changed:
            return self.data
        tail = self.tail.encode("utf-8")
        if not self.edits and not self._patches:
            return b"".join((memoryview(self.data)[:self._data_end], tail))
        pieces = self._render_data()      # joined once: a big part is copied once, not once per step
        if self.edits:
            pieces[0] = self._widen_dimension(pieces[0])
        pieces.append(tail)
        return b"".join(pieces)

    def _render_data(self) -> list[bytes | memoryview]:
        """The part up to the end of sheetData, with the edited cells (or rows) spliced in, as pieces.

        The first piece holds everything before sheetData (the dimension among it).
        """
        p = self.p.encode()
        data = self.data
        if self._inner is None:  # <sheetData/>: open it
            return [data[:self._data_start], b"<" + p + b"sheetData>",
                    *(self._new_row(r) for r in sorted(self.edits)), b"</" + p + b"sheetData>"]
        splices: list[tuple[int, int, int, bytes]] = []      # (start, end, order, new bytes)
        for r, edits in self.edits.items():
            rec = self._rec(r)
            if rec is None:        # a new row: before the first existing row below it
                at = min((x.start for i, x in self.rows.items() if i > r), default=self._inner[1])
                splices.append((at, at, r, self._new_row(r)))
                continue
            known = rec.cells if rec.cells is not None else rec.found
            if known and all(known.get(c) for c in edits):     # every edited cell exists: replace just those
                splices.extend((known[c][7], known[c][8], 0, e) for c, e in edits.items())  # type: ignore[index]
            else:
                self._absorb_patches(rec)
                splices.append((rec.start, rec.end, 0, self._edited_row(rec)))
        for patches in self._patches.values():
            splices += patches
        splices.sort()
        view = memoryview(data)
        out: list[bytes | memoryview] = [data[:self._data_start]]
        cursor = self._data_start
        for start, end, _, new in splices:
            out.append(view[cursor:start])
            out.append(new)
            cursor = end
        out.append(view[cursor:self._data_end])
        return out

    def _absorb_patches(self, rec: Row) -> None:
        """Turn a row's cached-value patches into whole-cell edits: the row is about to be rewritten whole."""
        for row, col in [key for key in self._patches if key[0] == rec.index]:
            patches = self._patches.pop((row, col))
            cell = self._cells(rec)[col]
            out, cursor = [], cell[7]
            for start, end, _, new in sorted(patches):
                out += [self.data[cursor:start], new]
                cursor = end
            out.append(self.data[cursor:cell[8]])
            self.edits[rec.index][col] = b"".join(out)

    def _edited_row(self, rec: Row) -> bytes:
        """A row with cells added (or replaced where its cells could not be found one by one)."""
        edits = self.edits[rec.index]
        data = self.data
        spans = self._spans(rec)
        have = {c for c, _, _ in spans}
        if all(c in have for c in edits):   # replace in place: the common case
            out, cursor = [data[rec.start:rec.inner]], rec.inner
            for c, s, e in spans:
                if c in edits:
                    out.append(data[cursor:s])
                    out.append(edits[c])
                    cursor = e
            out.append(data[cursor:rec.end])
            return b"".join(out)
        merged = {c: data[s:e] for c, s, e in spans}
        merged.update(edits)
        cols = sorted(merged)
        head = data[rec.start:rec.inner]
        m = _SPANS.search(head)
        if m:
            lo, hi = min(int(m.group(1)), cols[0] + 1), max(int(m.group(2)), cols[-1] + 1)
            head = head[:m.start()] + b'spans="%d:%d"' % (lo, hi) + head[m.end():]
        if rec.close == rec.end:  # <row …/>
            head = head[:-2].rstrip() + b">"
        p = self.p.encode()
        return head + b"".join(merged[c] for c in cols) + b"</" + p + b"row>"

    def _new_row(self, row: int) -> bytes:
        p = self.p.encode()
        edits = self.edits[row]
        return (b"<" + p + b'row r="%d">' % (row + 1) + b"".join(edits[c] for c in sorted(edits))
                + b"</" + p + b"row>")

    def _widen_dimension(self, data: bytes) -> bytes:
        """``data`` (the part up to sheetData) with the dimension widened to the cells edited."""
        m = re.search(rb"<" + re.escape(self.p.encode()) + rb'dimension\s+ref="([^"]+)"', data[:self._data_start])
        if not m:
            return data
        try:
            r0, c0, r1, c1 = parse_range(m.group(1).decode())
        except ValueError:
            return data
        rows = list(self.edits)
        cols = [c for e in self.edits.values() for c in e]
        nr0, nc0, nr1, nc1 = min(r0, *rows), min(c0, *cols), max(r1, *rows), max(c1, *cols)
        if (nr0, nc0, nr1, nc1) == (r0, c0, r1, c1):
            return data
        ref = a1(nr0, nc0) + (":" + a1(nr1, nc1) if (nr0, nc0) != (nr1, nc1) else "")
        return data[:m.start(1)] + ref.encode() + data[m.end(1):]


def _cached(value: Value) -> Value:
    """How a formula's cached value reads back (text results are t="str")."""
    if value is None:
        return ""
    return value


def stored(value: Value) -> tuple[str, str | None]:
    """(t attribute, escaped text) of a value to store."""
    if value is None or value == "":
        return "", None
    if isinstance(value, ExcelError):
        return "e", escape(str(value))
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "e", "#NUM!"
        return "", number_text(value)
    if isinstance(value, (date, datetime)):
        return "", number_text(serial(value))
    return "inlineStr", escape(str(value))


def formula_value(value: Value) -> tuple[str, str]:
    """(t attribute, escaped cached text) for a formula's cached result; text results are t="str"."""
    t, v = stored(value)
    if t == "inlineStr" or (not t and v is None):
        return "str", v or ""
    return t, v or ""


def shared_strings(xml: bytes | str) -> list[str]:
    """The texts of a sharedStrings part, rich runs joined, phonetic runs left out."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    m = re.search(rb"<(\w+:)?sst\b", xml[:4096])
    p = (m.group(1) or b"").decode() if m else ""
    pat = _patterns(p)
    q = re.escape(p.encode())
    # Plain items (<si><t>text</t></si>, what most writers produce) in one pass, decoded at once.
    plain = re.findall(rb"<" + q + rb"si><" + q + rb't(?: xml:space="preserve")?>([^<]*)</' + q + rb"t></" + q
                       + rb"si>", xml)
    if len(plain) == xml.count(b"<" + p.encode() + b"si>") + xml.count(b"<" + p.encode() + b"si "):
        return _texts_of(plain, "") if all(plain) else [unescape(t.decode("utf-8")) for t in plain]
    out = []
    for si in re.finditer(rb"<" + q + rb"si\b[^>]*?(?:/>|>(.*?)</" + q + rb"si>)", xml, re.S):
        inner = si.group(1) or b""
        if b"rPh" in inner:
            inner = pat.rph.sub(b"", inner)
        out.append("".join(unescape(t.decode("utf-8")) for t in pat.t.findall(inner)))
    return out


# Built-in number formats that show a date (ECMA-376 18.8.30 and the East Asian ids 27-36, 50-58 whose
# locale formats are dates), not those that show only a time of day.
_BUILTIN_DATES = frozenset({14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 55, 56, 57, 58})
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.I)          # [h]:mm elapsed time: a duration, not a date
_NOT_A_TOKEN = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def _is_date_format(code: str) -> bool:
    """Whether a custom number format code shows a date: y or d, or m without hours or seconds."""
    code = _NOT_A_TOKEN.sub("", _ELAPSED.sub("h", code.split(";")[0])).lower()
    return "y" in code or "d" in code or ("m" in code and "h" not in code and "s" not in code)


def date_styles(styles: str) -> frozenset[int]:
    """The indices of the cell formats (cellXfs) of a styles part whose number format shows a date."""
    custom = {int(a["numFmtId"]) for m in re.finditer(r"<(?:\w+:)?numFmt\b([^>]*?)/?>", styles)
              if (a := attrs(m.group(1))).get("numFmtId", "").isdigit() and _is_date_format(a.get("formatCode", ""))}
    block = re.search(r"<(?:\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", styles, re.S)
    if block is None:
        return frozenset()
    out = set()
    for i, m in enumerate(re.finditer(r"<(?:\w+:)?xf\b([^>]*?)/?>", block.group(1))):
        fmt = attrs(m.group(1)).get("numFmtId", "0")
        if fmt.isdigit() and (int(fmt) in _BUILTIN_DATES or int(fmt) in custom):
            out.add(i)
    return frozenset(out)


def iter_blocks(block, row: int, col: int):
    """(row, col, item) for every item of a block that is not None."""
    for i, items in enumerate(block):
        for j, item in enumerate(items):
            if item is not None:
                yield row + i, col + j, item
