"""Read and edit one worksheet part as bytes, touching only the cells that change.

A workbook another program saved may carry anything in its sheet XML (extension
lists, namespaces we do not know), so the part is never parsed into a tree and
written back: rows and cells are found with patterns, and edits splice new bytes
for just the rows they touch. Everything else stays byte for byte, and a sheet
whose cached values are already right is not rewritten at all.

Speed matters (a 10,000-row table of long formulas is a 20 MB part): formulas are
found with one pattern pass over the part, rows are indexed only when a cell is
written, a written cell is found by its reference instead of parsing its row, and
a cell that already holds what is written is left as it is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

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


def col_index(letters: str | bytes) -> int:
    """0-based column of letters such as 'A' or b'AB'."""
    n = 0
    for ch in (letters.decode() if isinstance(letters, bytes) else letters):
        n = n * 26 + ord(ch) - 64
    return n - 1


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
    if isinstance(x, bool):
        return "1" if x else "0"
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
        return old == new or abs(old - new) <= 1e-15 * max(abs(old), abs(new))
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
    formula_cell: re.Pattern   # a cell whose first child is <f>: (letters, row, f attrs, f text)
    error_cell: re.Pattern     # a cell holding an error value: (letters, row, value)
    row_end: bytes
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
                rb"(<" + q + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + q + rb"f>))?"
                rb"(?:<" + q + rb"v(?:\s[^>]*)?>([^<]*)</" + q + rb"v>|<" + q + rb"v\s*/>)?"
                rb"(?:<" + q + rb"is>(.*?)</" + q + rb"is>)?</" + q + rb"c>)", re.S),
            any_cell=re.compile(rb"<" + q + rb"c\b([^>]*?)(?:/>|>(.*?)</" + q + rb"c>)", re.S),
            t=re.compile(rb"<" + q + rb"t(?:\s[^>]*)?>(.*?)</" + q + rb"t>", re.S),
            rph=re.compile(rb"<" + q + rb"rPh\b.*?</" + q + rb"rPh>", re.S),
            f=re.compile(rb"<" + q + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + q + rb"f>)", re.S),
            formula_cell=re.compile(rb"<" + q + rb'c r="([A-Z]{1,3})(\d+)"[^>]*?><' + q + rb"f\b([^>]*?)(?:/>|>([^<]*)</"
                                    + q + rb"f>)"),
            error_cell=re.compile(rb"<" + q + rb'c r="([A-Z]{1,3})(\d+)"[^>]*?\bt="e"[^>]*>(?:<' + q + rb"f\b[^>]*?(?:/>|>"
                                  rb"[^<]*</" + q + rb"f>))?<" + q + rb"v>([^<]*)</" + q + rb"v>"),
            row_end=b"</" + prefix.encode() + b"row>",
            cell_open=b"<" + prefix.encode() + b"c",
            prefix=prefix.encode(),
        )
    return _PATTERNS[prefix]


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

    def __init__(self, data: bytes, shared_strings) -> None:  # a list, or anything indexable
        self.data = data
        self.sst = shared_strings
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
            close = data.find(b"</" + self.p.encode() + b"sheetData>", sd.end())
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
        self._formula_list: list[tuple[int, int, bytes, bytes]] | None = None
        self._formula_index: dict[int, list[tuple[int, bytes, bytes]]] | None = None
        self.edits: dict[int, dict[int, bytes]] = {}   # row → col → new <c> element

    # ------------------------------------------------------------ index
    @property
    def rows(self) -> dict[int, Row]:
        if self._rows is None:
            self._rows = {}
            if self._inner:
                data, row_end = self.data, self.pat.row_end
                start, stop = self._inner
                implied = 0
                pos = start
                row_re = self.pat.row
                while True:
                    m = row_re.search(data, pos, stop)
                    if m is None:
                        break
                    r = _ROW_R.search(m.group(1))
                    implied = int(r.group(1)) - 1 if r else implied
                    if m.group(2):
                        rec = Row(implied, m.start(), m.end(), m.end(), m.end())
                    else:
                        close = data.find(row_end, m.end(), stop)
                        if close < 0:
                            raise RetroxlError("a worksheet part is damaged (a row is not closed)")
                        rec = Row(implied, m.start(), m.end(), close + len(row_end), close)
                    self._rows[implied] = rec
                    implied += 1
                    pos = rec.end
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
        """Values and formulas of a block, ``None`` where a cell is empty or holds no formula."""
        width = c1 - c0 + 1
        rows = self.rows
        values: list[list[Value]] = []
        formulas: list[list[str | None]] = []
        value, formula, cells_of = self._value, self._formula, self._cells
        for r in range(r0, r1 + 1):
            vrow: list[Value] = [None] * width
            frow: list[str | None] = [None] * width
            rec = rows.get(r)
            if rec is not None and rec.close > rec.inner:
                for col, cell in cells_of(rec).items():
                    if c0 <= col <= c1:
                        a, v = cell[1], cell[5]
                        if v and b't="' not in a:          # a plain number: most cells
                            try:
                                vrow[col - c0] = float(v)
                            except ValueError:
                                vrow[col - c0] = value(cell)
                        else:
                            vrow[col - c0] = value(cell)
                        if cell[2]:
                            frow[col - c0] = formula(r, cell)
            values.append(vrow)
            formulas.append(frow)
        return values, formulas

    def formula_block(self, r0: int, c0: int, r1: int, c1: int) -> list[list[str | None]]:
        """The formulas of a block, from one pattern pass over the sheet (values come from elsewhere)."""
        grid: list[list[str | None]] = [[None] * (c1 - c0 + 1) for _ in range(r1 - r0 + 1)]
        by_row = self._formula_rows()
        formula = self._formula
        for r in range(r0, r1 + 1):
            for col, f_attrs, f_text in by_row.get(r, ()):
                if c0 <= col <= c1:
                    grid[r - r0][col - c0] = formula(r, (col, b"", b"<f", f_attrs, f_text))
        return grid

    def _formula_rows(self) -> dict[int, list[tuple[int, bytes, bytes]]]:
        if self._formula_index is None:
            self._formula_index = {}
            for r, col, f_attrs, f_text in self._formula_cells():
                self._formula_index.setdefault(r, []).append((col, f_attrs, f_text))
        return self._formula_index

    def _formula_cells(self) -> list[tuple[int, int, bytes, bytes]]:
        """(row, col, f attrs, f text) of every formula cell, in sheet order."""
        if self._formula_list is None:
            cols = _COLUMNS
            lo, hi = self._inner or (0, 0)
            self._formula_list = [(int(r) - 1, cols[c], a, t)
                                  for c, r, a, t in self.pat.formula_cell.findall(self.data, lo, hi)]
        return self._formula_list

    def error_cells(self) -> dict[tuple[int, int], ExcelError]:
        """Cells holding an error value (#N/A, #DIV/0!): readers that lose them get them back from here."""
        if b't="e"' not in self.data:
            return {}
        lo, hi = self._inner or (0, 0)
        return {(int(r) - 1, _COLUMNS[c]): ExcelError(unescape(v.decode()))
                for c, r, v in self.pat.error_cell.findall(self.data, lo, hi)}

    def _value(self, cell: tuple) -> Value:
        a, v, inline = cell[1], cell[5], cell[6]
        t = _T_ATTR.search(a).group(1) if b't="' in a else b"n"
        if t == b"inlineStr":
            return self._rich_text(inline)
        if not v:
            return "" if t == b"str" and cell[2] else None
        if t == b"n":
            try:
                return float(v)
            except ValueError:
                return unescape(v.decode())
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
                for r, col, f_attrs, f_text in self._formula_cells():
                    if b"ref=" in f_attrs:
                        a = attrs(f_attrs.decode())
                        if a.get("t") == "shared":
                            self._shared[a.get("si", "")] = (r, col, unescape(f_text.decode()))
        return self._shared

    def _cell(self, row: int, col: int, ref: bytes | None = None) -> tuple | None:
        rec = self.rows.get(row)
        if rec is None:
            return None
        if rec.cells is not None:
            return rec.cells.get(col)
        if rec.found is None:
            rec.found = {}
        if col in rec.found:
            return rec.found[col]
        # one cell, found by its reference: cheaper than parsing a whole row of long formulas
        ref = ref or a1(row, col).encode()
        pos = self.data.find(self.pat.cell_open + b' r="' + ref + b'"', rec.inner, rec.close)
        m = self.pat.cell.match(self.data, pos, rec.close) if pos >= 0 else None
        if m is None:
            return self._cells(rec).get(col)
        cell = rec.found[col] = (col, m[2], m[3] or b"", m[4] or b"", m[5] or b"", m[6] or b"", m[7] or b"",
                                 m.start(), m.end())
        return cell

    # ------------------------------------------------------------ writing
    def put(self, row: int, col: int, value: Value | Formula) -> None:
        """Set one cell's content, keeping its style and other attributes; no edit if it already says this."""
        ref = a1(row, col).encode()
        old = self._cell(row, col, ref)
        p = self.pat.prefix
        if isinstance(value, Formula):
            f = self._formula_element(row, old, value.text)
            if old is not None and f == old[2] and same_value(self._value(old), _cached(value.value)):
                return
            t, v = formula_value(value.value)
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
        keep = _DROP_RT.sub(b"", old[1]) if old else b""
        head = b"<" + p + b'c r="' + ref + b'"' + keep + (b' t="' + t.encode() + b'"' if t else b"")
        self.edits.setdefault(row, {})[col] = head + (b">" + body + b"</" + p + b"c>" if body else b"/>")

    def _formula_element(self, row: int, old: tuple | None, text: str) -> bytes:
        """The <f> to write: the existing one when its text already says this, else a plain one."""
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
        return bool(self.edits) or self.tail != self._tail0

    def render(self) -> bytes:
        """The part with every cell edit and the edited tail."""
        if not self.changed:
            return self.data
        tail = self.tail.encode("utf-8")
        if not self.edits:
            return self.data[:self._data_end] + tail
        return self._widen_dimension(self._render_data()) + tail

    def _render_data(self) -> bytes:
        """The part up to the end of sheetData, with edited rows spliced in."""
        p = self.p.encode()
        data = self.data
        if self._inner is None:  # <sheetData/>: open it
            return (data[:self._data_start] + b"<" + p + b"sheetData>"
                    + b"".join(self._new_row(r) for r in sorted(self.edits)) + b"</" + p + b"sheetData>")
        start, stop = self._inner
        out = [data[:start]]
        cursor = start
        rows = self.rows
        pending = sorted(r for r in self.edits if r not in rows)
        i = 0
        for r in sorted(self.edits):
            rec = rows.get(r)
            if rec is None:
                continue
            while i < len(pending) and pending[i] < r:
                at = self._row_start_after(pending[i], cursor)
                out.append(data[cursor:at])
                cursor = at
                out.append(self._new_row(pending[i]))
                i += 1
            out.append(data[cursor:rec.start])
            out.append(self._edited_row(rec))
            cursor = rec.end
        while i < len(pending):
            at = self._row_start_after(pending[i], cursor)
            out.append(data[cursor:at])
            cursor = at
            out.append(self._new_row(pending[i]))
            i += 1
        out.append(data[cursor:self._data_end])
        return b"".join(out)

    def _row_start_after(self, row: int, cursor: int) -> int:
        """Where a new row goes: before the first existing row below it (not before ``cursor``)."""
        later = [rec.start for r, rec in self.rows.items() if r > row and rec.start >= cursor]
        return min(later) if later else self._inner[1]  # type: ignore[index]

    def _edited_row(self, rec: Row) -> bytes:
        edits = self.edits[rec.index]
        data = self.data
        if rec.cells is None and rec.found and all(rec.found.get(c) for c in edits):
            spans = sorted((rec.found[c][7], rec.found[c][8], c) for c in edits)  # type: ignore[index]
            out, cursor = [data[rec.start:rec.inner]], rec.inner
            for s, e, c in spans:
                out.append(data[cursor:s])
                out.append(edits[c])
                cursor = e
            out.append(data[cursor:rec.end])
            return b"".join(out)
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
    out = []
    for si in re.finditer(rb"<" + q + rb"si\b[^>]*?(?:/>|>(.*?)</" + q + rb"si>)", xml, re.S):
        inner = si.group(1) or b""
        if b"rPh" in inner:
            inner = pat.rph.sub(b"", inner)
        out.append("".join(unescape(t.decode("utf-8")) for t in pat.t.findall(inner)))
    return out


def iter_blocks(block, row: int, col: int):
    """(row, col, item) for every item of a block that is not None."""
    for i, items in enumerate(block):
        for j, item in enumerate(items):
            if item is not None:
                yield row + i, col + j, item
