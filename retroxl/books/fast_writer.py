"""Stamp prefilled workbooks from one rendered copy: the fast path of ``retroxl batch``.

``WorkbookWriter`` spends ~100 ms per workbook on parts that are the same for every
campaign (styles, tables, charts, validation, the empty 表2-表4). A
:class:`WorkbookStamp` renders the workbook once with ``WorkbookWriter`` and keeps
its zip members. For a campaign it computes only the fields and tables whose values
can depend on the campaign's entries (found from the template's formula
references), writes the cells that differ from the rendered copy with the writer's
own cell functions (once per distinct place and value: goals, units, dates and
schedules repeat from campaign to campaign), swaps them into the XML of their
sheets, and copies every other member as its compressed bytes. Text that differs from the rendered copy is
written inline (``t="inlineStr"``) so the shared strings stay as rendered. A chart whose
series read such cells (the dashboard's, when 表2 has rows) gets its cached values
rewritten as XlsxWriter writes them; the other charts are copied.
"""

from __future__ import annotations

import re
import struct
import tempfile
import warnings
import zlib
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path

from xlsxwriter.chart import Chart
from xlsxwriter.utility import _preserve_whitespace, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import CellFormulaTuple, Worksheet, re_dynamic_function

from ..compute import Values, compute
from ..layout import Layout
from ..model import Link, Retrospective
from ..schedule import Schedule, make_schedule
from ..template import Column, Sheet
from .sheetxml import col_index, unescape
from .xlsx_writer import WorkbookWriter, write_formula, write_value

Cell = tuple[int, int]          # 0-based (row, col)
Node = tuple[str, str]          # ("f", field key) or ("t", table key)
Area = tuple[str, int, int, int, int]   # sheet key, first row, first col, last row, last col

_ROW_RE = re.compile(r'<row r="(\d+)"(?: spans="([^"]*)")?([^>]*?)(?:/>|>(.*?)</row>)', re.S)
_CELL_RE = re.compile(r'<c r="([A-Z]+)\d+"[^>]*?(?:/>|>.*?</c>)', re.S)
_DIMENSION_RE = re.compile(r'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"/>')
_SST_COUNT_RE = re.compile(rb'<sst [^>]*?count="(\d+)"')
# Text XML writes as _xHHHH_, or that write_value writes as rich text: WorkbookWriter itself writes those books.
_ESCAPED = re.compile(r"_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]|\A<r>.*</r>\Z", re.S)
_LEVEL = 6                  # zlib's default, as zipfile uses: for what is compressed once
_LEVEL_PER_COPY = 1         # for the cells of each copy: 3x faster, a few hundred bytes larger
_SCHEDULES_KEPT = 4096      # end dates whose schedule cells are kept
_CELLS_KEPT = 65536         # rendered cells kept for reuse (blank rows, repeated units and dates)
_RUNS_KEPT = 2048           # deflated runs of rows kept per sheet (the static ones, a schedule per date)
_CHARTS_KEPT = 1024         # rewritten charts kept, by the values they cache (the goals' names repeat)


def _entries(retro: Retrospective):
    yield from retro.info.values()
    for rows in retro.tables.values():
        for row in rows:
            yield from row.values()


# ---------------------------------------------------------------- cells, as XlsxWriter makes them
class _RawStrings:
    """Stands in for XlsxWriter's shared-string table: a string cell keeps its text."""

    @staticmethod
    def _get_shared_string_index(string: str) -> str:
        return string

    @staticmethod
    def _get_shared_string(string: str) -> str:
        return string


_FORMULA_SHEET = Worksheet()
_PREPARED: dict[str, str | None] = {}   # formula → XlsxWriter's text for it (None: array or dynamic)
_NOT_YET = object()
_NUMBER = re.compile(r"[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?")


def _remember(cache: dict, key: object, value: object) -> None:
    if len(cache) >= _CELLS_KEPT:
        cache.clear()
    cache[key] = value


def _plain_formula(formula: str) -> str | None:
    """XlsxWriter's text for an ordinary formula (None for array and dynamic ones), once per formula:
    its checks and rewrites take some 30 regular-expression passes (~0.15 ms)."""
    prepared = _PREPARED.get(formula, _NOT_YET)
    if prepared is _NOT_YET:
        dynamic = re_dynamic_function.search(formula) or (formula.startswith("{") and formula.endswith("}"))
        prepared = None if dynamic else _FORMULA_SHEET._prepare_formula(formula)
        _remember(_PREPARED, formula, prepared)
    return prepared  # type: ignore[return-value]


def _ignore(*args: object, **kwargs: object) -> _Null:
    return _NULL


class _Null:
    """Absorbs workbook-level calls (defined names, charts): they do not depend on the campaign."""

    def __getattr__(self, name: str) -> object:
        return _ignore


_NULL = _Null()


_CONVERTED: dict[tuple, object] = {}   # (call, arguments) → the cell XlsxWriter stores, or None for none
#                                         (for merge_range: the cells of the range)


class _CellRecorder:
    """Takes a writer's worksheet calls and keeps only the cells, as XlsxWriter stores them.

    A detached XlsxWriter ``Worksheet`` converts each distinct call once (formula
    text, dates, string limits exactly as when a workbook is written); calls that
    do not put a value in a cell (widths, tables, validation) are ignored.
    """

    def __init__(self) -> None:
        self.sheet = Worksheet()
        self.sheet.str_table = _RawStrings()
        self.cells: dict[Cell, tuple] = {}

    def clear(self) -> _CellRecorder:
        self.cells = {}
        return self

    def _store(self, row: int, col: int, call: str, args: tuple) -> int:
        key = (call, args)
        cell = _CONVERTED.get(key, _NOT_YET)
        if cell is _NOT_YET:
            getattr(self.sheet, call)(row, col, *args)
            cell = self.sheet.table[row].pop(col, None)
            _remember(_CONVERTED, key, cell)
        if cell is not None:
            self.cells[(row, col)] = cell  # type: ignore[assignment]
        return 0

    def write_string(self, row: int, col: int, string: str, cell_format: object = None) -> int:
        return self._store(row, col, "write_string", (string, cell_format))

    def write_number(self, row: int, col: int, number: float, cell_format: object = None) -> int:
        return self._store(row, col, "write_number", (number, cell_format))

    def write_blank(self, row: int, col: int, blank: object, cell_format: object = None) -> int:
        return self._store(row, col, "write_blank", (None, cell_format))

    def write_boolean(self, row: int, col: int, boolean: bool, cell_format: object = None) -> int:
        return self._store(row, col, "write_boolean", (boolean, cell_format))

    def write_datetime(self, row: int, col: int, when: object, cell_format: object = None) -> int:
        return self._store(row, col, "write_datetime", (when, cell_format))

    def write_formula(self, row: int, col: int, formula: str, cell_format: object = None, value: object = 0) -> int:
        prepared = _plain_formula(formula)
        if prepared is None:   # an array or dynamic formula: XlsxWriter's own path
            return self._store(row, col, "write_formula", (formula, cell_format, value))
        self.cells[(row, col)] = CellFormulaTuple(prepared, cell_format, value)
        return 0

    def merge_range(self, *args: object) -> int:
        key = ("merge_range", args)
        cells = _CONVERTED.get(key)
        if cells is None:
            self.sheet.merge_range(*args)
            cells = [((r, c), cell) for r, cols in self.sheet.table.items() for c, cell in cols.items()]
            for kept in (self.sheet.table, self.sheet.merge, self.sheet.merged_cells):   # to merge again later
                kept.clear()
            _remember(_CONVERTED, key, cells)
        self.cells.update(cells)  # type: ignore[arg-type]
        return 0

    def __getattr__(self, name: str) -> object:
        if name.startswith(("write", "merge", "insert_textbox")):
            raise NotImplementedError(f"the fast writer does not record worksheet.{name}: add it to _CellRecorder")
        return _ignore


class _Buffer:
    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


_RENDERER = Worksheet()


def _cell_xml(key: Cell, cell: tuple) -> bytes:
    """One cell as XlsxWriter writes it, except that text is inline rather than shared."""
    fmt = cell.format
    if fmt is not None and fmt.xf_index is None and fmt._get_format_key() not in fmt.xf_format_indices:
        raise RuntimeError("a campaign cell uses a format the rendered workbook does not have")
    _RENDERER.fh = buf = _Buffer()
    if type(cell).__name__ == "String":
        text = _RENDERER._escape_control_characters(cell.string)
        attrs = [("r", xl_rowcol_to_cell(*key))] + ([("s", fmt._get_xf_index())] if fmt is not None else [])
        _RENDERER._xml_inline_string(text, _preserve_whitespace(text), attrs)
    else:
        _RENDERER._write_cell(key[0], key[1], cell)
    return buf.text.encode()


# ---------------------------------------------------------------- which cells depend on a campaign
@dataclass
class _CachedFormulas(Layout):
    """The layout with column formula text remembered: every campaign writes the same few formulas."""

    memo: dict = field(default_factory=dict)

    def column_formula(self, table_key: str, column: Column, row: int = 0,
                       overrides: dict[str, str] | None = None) -> str:
        if overrides and not all(_NUMBER.fullmatch(v) for v in overrides.values()):
            return super().column_formula(table_key, column, row, overrides)
        key = (table_key, column.key, row, tuple(sorted(overrides or ())))
        if key not in self.memo:
            marked = super().column_formula(table_key, column, row,
                                            {k: f"\x00{k}\x00" for k in overrides} if overrides else None)
            self.memo[key] = (marked, _plain_formula(marked))
        formula, prepared = self.memo[key]
        if overrides:
            # A fallback number differs with every text entry: the formula is rendered and prepared
            # once with markers in its place, which each copy fills in. Preparing rewrites function
            # names only, so it treats a number literal as it treats the marker.
            for k, v in overrides.items():
                formula = formula.replace(f"\x00{k}\x00", v)
                prepared = prepared.replace(f"\x00{k}\x00", v) if prepared is not None else None
            _remember(_PREPARED, formula, prepared)
        return formula


@dataclass(frozen=True)
class _Dependencies:
    changed: frozenset[Node]     # fields and tables whose values can change with the inputs
    needed: frozenset[Node]      # those plus everything their formulas read
    row_local: frozenset[str]    # changed Excel tables whose rows depend only on their own entries


def _dependencies(layout: Layout, inputs: set[Node]) -> _Dependencies:
    """Follow the formula references of a layout from the inputs.

    An edge (node, whole) says that a node's formulas read another node: the same
    row of a table (whole=False) or a whole column or a named field (whole=True).
    """
    name_to_field = {fl.spec.name: k for k, fl in layout.fields.items() if fl.spec.name}

    def reads(args: dict[str, str], local: Node | None) -> set[tuple[Node, bool]]:
        out = set()
        for ref in args.values():
            head, _, rest = ref.partition(".")
            if head in ("m", "l"):
                continue
            if head == "name":
                out.add((("f", name_to_field[rest]), True))
            elif rest and head in layout.tables:
                out.add((("t", head), True))
            elif ref in layout.fields:
                out.add((("f", ref), True))
            elif local is not None:
                out.add((local, False))
        return out

    graph: dict[Node, set[tuple[Node, bool]]] = {}
    for key, tl in layout.tables.items():
        local = ("t", key) if tl.excel_table else ("t", layout.template.sheet(key).source)
        graph[("t", key)] = set().union(*(reads(c.formula.args, local) for c in tl.spec.columns if c.formula))
    for key, fl in layout.fields.items():
        graph[("f", key)] = reads(fl.spec.formula.args, None) if fl.spec.formula else set()

    changed = set(inputs)
    while more := {n for n, edges in graph.items() if n not in changed and any(e in changed for e, _ in edges)}:
        changed |= more
    needed, stack = set(changed), list(changed)
    while stack:
        for e, _ in graph[stack.pop()]:
            if e not in needed:
                needed.add(e)
                stack.append(e)
    read_whole = {e for n in changed for e, whole in graph[n] if whole}
    row_local = {k for kind, k in changed if kind == "t" and layout.tables[k].excel_table
                 and ("t", k) not in read_whole
                 and not any(whole and e in changed for e, whole in graph[("t", k)])}
    return _Dependencies(frozenset(changed), frozenset(needed), frozenset(row_local))


# ---------------------------------------------------------------- the zip package
@dataclass
class _Member:
    name: str
    local: bytes      # local header + compressed data, as rendered
    central: bytes    # central directory record, as rendered
    method: int

    @property
    def header(self) -> bytes:
        nlen, xlen = struct.unpack("<HH", self.local[26:30])
        return self.local[:30 + nlen + xlen]

    def content(self) -> bytes:
        raw = self.local[len(self.header):]
        return zlib.decompress(raw, -15) if self.method == 8 else raw

    def with_content(self, data: bytes) -> tuple[bytes, bytes]:
        """The local record for new content, and its CRC and sizes as the central record holds them."""
        return self.with_packed(_deflate(data) if self.method == 8 else data, zlib.crc32(data), len(data))

    def with_packed(self, body: bytes, crc: int, size: int) -> tuple[bytes, bytes]:
        """The same for content already packed (``body``), given the CRC and size of what it packs."""
        sizes = struct.pack("<III", crc, len(body), size)
        header = self.header
        return header[:14] + sizes + header[26:] + body, sizes


def _deflate(data: bytes, mode: int = zlib.Z_FINISH, level: int = _LEVEL) -> bytes:
    """Raw deflate; Z_FULL_FLUSH ends on a byte boundary with nothing to refer back to, so
    pieces compressed apart can be joined into one stream."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(mode)


def _zip_members(data: bytes) -> list[_Member]:
    """The members of a zip written by ``zipfile`` (no comment, no data descriptors, no zip64)."""
    sig, _, _, _, count, _, cd_offset, _ = struct.unpack("<IHHHHIIH", data[-22:])
    if sig != 0x06054B50:
        raise ValueError("not a plain zip file")
    members, pos = [], cd_offset
    for _ in range(count):
        (_, _, _, flag, method, _, _, _, csize, _, nlen, xlen, clen, _, _, _, offset) = \
            struct.unpack("<IHHHHHHIIIHHHHHII", data[pos:pos + 46])
        if flag & 0x08:
            raise ValueError("zip members with data descriptors are not supported")
        central = data[pos:pos + 46 + nlen + xlen + clen]
        lnlen, lxlen = struct.unpack("<HH", data[offset + 26:offset + 30])
        members.append(_Member(data[pos + 46:pos + 46 + nlen].decode("utf-8"),
                               data[offset:offset + 30 + lnlen + lxlen + csize], central, method))
        pos += len(central)
    return members


class _Package:
    """The rendered zip's records, reassembled with some members replaced."""

    def __init__(self, members: list[_Member]) -> None:
        self.members = members
        self.index = {m.name: i for i, m in enumerate(members)}
        self.directory = b"".join(m.central for m in members)
        self.at = [sum(len(m.central) for m in members[:i]) for i in range(len(members))]
        self.sizes = [len(m.local) for m in members]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(members) + 1)]   # where each starts, if packed
        self.blocks: dict[tuple[int, int], bytes] = {}     # members [first, end) as one piece

    def assemble(self, new: dict[str, tuple[bytes, bytes]]) -> bytes:
        """``new``: member name → (local record, CRC and sizes)."""
        directory = bytearray(self.directory)
        out, first, shift = [], 0, 0     # shift: how far the members from ``first`` on move
        for i, (local, sizes) in sorted(((self.index[name], record) for name, record in new.items()),
                                        key=lambda x: x[0]):
            self._keep(out, directory, first, i, shift)
            at = self.at[i]
            directory[at + 16:at + 28] = sizes
            struct.pack_into("<I", directory, at + 42, self.offsets[i] + shift)
            out.append(local)
            shift += len(local) - self.sizes[i]
            first = i + 1
        count = len(self.members)
        self._keep(out, directory, first, count, shift)
        out += [directory, struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory),
                                       self.offsets[count] + shift, 0)]
        return b"".join(out)

    def _keep(self, out: list[bytes], directory: bytearray, first: int, end: int, shift: int) -> None:
        """Members ``first`` to ``end`` unchanged, ``shift`` bytes from where they were rendered."""
        if first >= end:
            return
        if (first, end) not in self.blocks:
            self.blocks[(first, end)] = b"".join(m.local for m in self.members[first:end])
        out.append(self.blocks[(first, end)])
        for i in range(first, end):
            struct.pack_into("<I", directory, self.at[i] + 42, self.offsets[i] + shift)


def _worksheet_members(members: list[_Member], layout: Layout) -> dict[str, _Member]:
    """Sheet key → zip member of its worksheet, read from workbook.xml and its relationships."""
    by_name = {m.name: m for m in members}
    workbook = by_name["xl/workbook.xml"].content().decode()
    rels = by_name["xl/_rels/workbook.xml.rels"].content().decode()
    targets = dict(re.findall(r'<Relationship Id="([^"]+)" Type="[^"]+/worksheet" Target="([^"]+)"', rels))
    rids = {unescape(n): rid for n, rid in re.findall(r'<sheet name="([^"]*)" sheetId="\d+" r:id="([^"]+)"',
                                                     workbook)}
    return {key: by_name["xl/" + targets[rids[name]]] for key, name in layout.sheets.items()}


def _ref(r0: int, c0: int, r1: int, c1: int) -> str:
    first = xl_rowcol_to_cell(r0, c0)
    return first if (r0, c0) == (r1, c1) else f"{first}:{xl_rowcol_to_cell(r1, c1)}"


# ---------------------------------------------------------------- one worksheet part
class _SheetPart:
    """A rendered worksheet, split so that single cells can be swapped."""

    def __init__(self, member: _Member, recorded: dict[Cell, tuple]) -> None:
        self.member = member
        self.recorded = recorded          # the cells the writer wrote, as XlsxWriter stored them
        xml = member.content().decode()
        start = xml.index("<sheetData>") + len("<sheetData>")
        end = xml.index("</sheetData>")
        d = _DIMENSION_RE.search(xml, 0, start)
        self.extent = (int(d[2]) - 1, col_index(d[1]), int(d[4] or d[2]) - 1, col_index(d[3] or d[1]))
        self.head, self.tail = xml[:start].encode(), xml[end:].encode()
        self.head_z = _deflate(self.head, zlib.Z_FULL_FLUSH)
        self.tail_z = _deflate(self.tail)
        self.cells: dict[int, dict[int, bytes]] = {}  # row → col → <c> XML
        self.attrs: dict[int, str] = {}             # row → attributes after r and spans (height...)
        self.xml: dict[int, bytes] = {}             # row → <row> XML as rendered
        self.spans: dict[int, str] = {}             # block of 16 rows → spans
        for m in _ROW_RE.finditer(xml, start, end):
            row = int(m[1]) - 1
            self.attrs[row], self.xml[row] = m[3], m[0].encode()
            if m[2]:
                self.spans[row // 16] = m[2]
            self.cells[row] = {col_index(c[1]): c[0].encode() for c in _CELL_RE.finditer(m[4] or "")}
        self.order = sorted(self.xml)
        self.span_cols = {b: tuple(int(x) - 1 for x in v.split(":")) for b, v in self.spans.items()}
        self.bounds = {r: (min(c), max(c)) for r, c in self.cells.items() if c}   # first and last column
        self.formatted = frozenset(r for r, a in self.attrs.items() if a)   # kept without cells (set_row)
        self.shared = sum(x.count(b' t="s"') for x in self.xml.values())
        self.blocks: dict[int, list[int]] = {}      # block of 16 rows → its rows
        for r in self.order:
            self.blocks.setdefault(r // 16, []).append(r)
        self.shared_cols = {r: frozenset(c for c, x in cells.items() if b' t="s"' in x)   # row → its cells
                            for r, cells in self.cells.items() if b' t="s"' in self.xml[r]}  # that are shared strings
        self.tags = {r: self._tag(r, self.spans.get(r // 16)) for r in self.order}   # row → "<row ..." as rendered
        self.kept_runs: dict[tuple[int, int], tuple[bytes, bytes]] = {}   # (first, end) in order → XML, deflated
        self.runs: dict[bytes, bytes] = {}          # rewritten rows' XML → deflated, for runs that come back

    def with_cells(self, changes: dict[Cell, bytes | None]) -> tuple[tuple[bytes, bytes], int]:
        """Zip records of the part with cells replaced (None removes one), and its shared-string references."""
        rows: dict[int, dict[int, bytes | None]] = {}
        for (r, c), xml in changes.items():
            if r in rows:
                rows[r][c] = xml
            else:
                rows[r] = {c: xml}
        shared = self.shared
        r0, c0, r1, c1 = self.extent
        merged: dict[int, dict[int, bytes]] = {}    # changed row → its cells
        respan = set()          # blocks whose first or last used column may move
        for r, row in rows.items():
            old = self.cells.get(r)
            cells = merged[r] = {**old, **row} if old else dict(row)
            if r in self.shared_cols:
                shared -= len(self.shared_cols[r] & row.keys())
            added = row
            if None in row.values():
                merged[r] = {c: x for c, x in cells.items() if x is not None}
                added = [c for c, x in row.items() if x is not None]
                respan.add(r // 16)
            if added:
                first, last = min(added), max(added)
                span = self.span_cols.get(r // 16)
                if span is None or first < span[0] or last > span[1]:
                    respan.add(r // 16)
                if not (r0 <= r <= r1 and c0 <= first and last <= c1):
                    r0, c0, r1, c1 = min(r0, r), min(c0, first), max(r1, r), max(c1, last)
        spans, tags, retag = self.spans, self.tags, set()
        if respan:
            spans = dict(spans)
            for block in respan:
                lines = range(block * 16, block * 16 + 16)
                ends = [(min(merged[r]), max(merged[r])) for r in lines if merged.get(r)] + \
                    [self.bounds[r] for r in lines if r not in merged and r in self.bounds]
                spans.pop(block, None)
                if ends:
                    spans[block] = f"{min(e[0] for e in ends) + 1}:{max(e[1] for e in ends) + 1}"
            retag = {b for b in respan if spans.get(b) != self.spans.get(b)}
            if retag:
                tags = {r: self._tag(r, spans.get(r // 16)) for b in retag for r in range(b * 16, b * 16 + 16)}
                for b in retag:
                    merged.update((r, self.cells[r]) for r in self.blocks.get(b, ()) if r not in merged)
        new_xml: dict[int, bytes | None] = {}     # row → its new XML, None when it goes
        for r, cells in merged.items():
            tag = tags.get(r) or self._tag(r, spans.get(r // 16))
            new_xml[r] = (b"".join([tag, b">", *[cells[c] for c in sorted(cells)], b"</row>"]) if cells
                          else tag + b"/>" if r in self.formatted else None)
        if (r0, c0, r1, c1) == self.extent:
            head, head_z = self.head, self.head_z
        else:
            head = _DIMENSION_RE.sub(f'<dimension ref="{_ref(r0, c0, r1, c1)}"/>', self.head.decode(),
                                     count=1).encode()
            head_z = _deflate(head, zlib.Z_FULL_FLUSH)
        # The body in runs: rows as rendered, between them the rows rewritten. Each run is deflated
        # apart, once: the rendered runs, and rewritten ones that come back (a date's schedule).
        runs: list[tuple[bytes, bytes]] = []
        at, i, rewritten = 0, 0, sorted(new_xml)     # at: the first rendered row not yet in a run
        while i < len(rewritten):
            start = bisect_left(self.order, rewritten[i])
            if start > at:
                runs.append(self._rendered_run(at, start))
                at = start
            run = []
            while i < len(rewritten) and bisect_left(self.order, rewritten[i]) == at:
                r = rewritten[i]
                if new_xml[r] is not None:
                    run.append(new_xml[r])
                at += r in self.xml
                i += 1
            if run:
                runs.append(self._rewritten_run(b"".join(run)))
        if at < len(self.order):
            runs.append(self._rendered_run(at, len(self.order)))
        crc, size = zlib.crc32(head), len(head) + len(self.tail)
        for raw, _ in runs:
            crc, size = zlib.crc32(raw, crc), size + len(raw)
        crc = zlib.crc32(self.tail, crc)
        if self.member.method == 8:
            return self.member.with_packed(b"".join([head_z, *[z for _, z in runs], self.tail_z]), crc, size), shared
        return self.member.with_packed(b"".join([head, *[raw for raw, _ in runs], self.tail]), crc, size), shared

    def _tag(self, r: int, span: str | None) -> bytes:
        return (f'<row r="{r + 1}"' + (f' spans="{span}"' if span else "") + self.attrs.get(r, "")).encode()

    def _rendered_run(self, first: int, end: int) -> tuple[bytes, bytes]:
        """Rows ``order[first:end]`` as rendered, and deflated (at most a few such runs per sheet)."""
        if (first, end) not in self.kept_runs:
            raw = b"".join(self.xml[r] for r in self.order[first:end])
            self.kept_runs[(first, end)] = (raw, _deflate(raw, zlib.Z_FULL_FLUSH))
        return self.kept_runs[(first, end)]

    def _rewritten_run(self, raw: bytes) -> tuple[bytes, bytes]:
        z = self.runs.get(raw)
        if z is None:
            if len(self.runs) >= _RUNS_KEPT:
                del self.runs[next(iter(self.runs))]    # the oldest
            z = self.runs[raw] = _deflate(raw, zlib.Z_FULL_FLUSH, _LEVEL_PER_COPY)
        return raw, z


# ---------------------------------------------------------------- one chart part
# A series' name, categories or values: the reference and the cells cached after it.
_CACHE_RE = re.compile(r"(<c:cat>)?<c:\w+Ref><c:f>([^<]*)</c:f>(<c:(str|num)Cache>.*?</c:\4Cache>)", re.S)
_CHART_WRITER = Chart()         # writes cache elements as XlsxWriter's charts do
_RANGE_READER = Worksheet()     # reads a range's cells as XlsxWriter does for a chart's caches
_RANGE_READER.str_table = _RawStrings()


class _ChartPart:
    """A rendered chart, split at the cached cells of its series (names, categories, values)."""

    def __init__(self, member: _Member, formulas: set[str]) -> None:
        self.member = member
        self.rendered = member.content()
        xml = self.rendered.decode()
        self.pieces: list[str] = []                      # the text around the caches
        self.caches: list[tuple[str, str, bool]] = []    # (range formula, "str" or "num", is a category)
        at = 0
        for m in _CACHE_RE.finditer(xml):
            self.pieces.append(xml[at:m.start(3)])
            self.caches.append((unescape(m[2]), m[4], bool(m[1])))
            at = m.end()
        self.pieces.append(xml[at:])
        if formulas - {f for f, _, _ in self.caches}:
            raise RuntimeError(f"{member.name}: a series without a cache the stamp can rewrite")

    def xml(self, data: dict[str, list]) -> bytes | None:
        """The chart caching ``data`` (range formula → values, as ``Worksheet._get_range_data`` gives
        them); None when categories change between text and numbers, for which XlsxWriter writes
        other elements as well."""
        out, w = [self.pieces[0]], _CHART_WRITER
        for (formula, kind, category), piece in zip(self.caches, self.pieces[1:]):
            values = data[formula]
            if category and (w._get_data_type(values) == "str") != (kind == "str"):
                return None
            w.fh = buf = _Buffer()
            (w._write_str_cache if kind == "str" else w._write_num_cache)(values)
            out += [buf.text, piece]
        return "".join(out).encode()


# ---------------------------------------------------------------- the stamp
class WorkbookStamp:
    """One rendered workbook for a template, language and table size; stamps campaign copies of it.

    ``inputs`` names the tables a campaign may fill (the header fields always may).
    ``render(retro)`` returns a workbook with the same cells, formulas, cached values
    and formatting as ``new_workbook`` writes for ``retro`` (dates parsed and choices
    localized, as ``new_workbook`` does before writing). One stamp per process: it
    keeps caches and is not thread-safe.
    """

    def __init__(self, layout: Layout, today: date, inputs: frozenset[str] = frozenset()) -> None:
        self.today = today
        self.layout = layout = _CachedFormulas(**{f.name: getattr(layout, f.name) for f in fields(Layout)})
        tpl = layout.template
        entries = {("f", k) for k, fl in layout.fields.items() if fl.spec.formula is None}
        deps = _dependencies(layout, entries | {("t", t) for t in inputs})
        self._fields = [k for k in layout.fields if ("f", k) in deps.changed]
        self._tables = [k for k in layout.tables if ("t", k) in deps.changed]
        self._row_local = deps.row_local
        self._needed = Layout(**{f.name: getattr(layout, f.name) for f in fields(Layout)} | {
            "tables": {k: v for k, v in layout.tables.items() if ("t", k) in deps.needed},
            "fields": {k: v for k, v in layout.fields.items() if ("f", k) in deps.needed}})
        self._compute_layouts: dict[tuple, Layout] = {}
        self._sheet_key = {name: key for key, name in layout.sheets.items()}

        self._empty = Retrospective()
        self._base = compute(layout, self._empty, today)
        writer = WorkbookWriter(layout, self._empty, self._base, make_schedule(tpl, None))
        with tempfile.TemporaryDirectory(prefix="retroxl-stamp-") as tmp:
            path = Path(tmp, "stamp.xlsx")
            writer.write(path)
            self._members = _zip_members(path.read_bytes())
        wb, writer.wb = writer.wb, _NULL   # what recording the sheets below adds (charts, names) is not written
        self._package = _Package(self._members)
        self._formats = writer.fmt   # their xf indices are those of the rendered styles.xml
        self._schedule_sheets = [s for s in tpl.sheets if s.kind == "info"]
        dirty = {self._sheet_key[layout.fields[k].sheet] for k in self._fields} | \
                {self._sheet_key[layout.tables[k].sheet] for k in self._tables} | \
                {s.key for s in self._schedule_sheets}
        parts = _worksheet_members(self._members, layout)
        self._parts = {s.key: _SheetPart(parts[s.key], self._record(writer, s).cells)
                       for s in tpl.sheets if s.key in dirty}
        self._schedules: OrderedDict[date | None, dict[str, dict[Cell, bytes | None]]] = OrderedDict()
        # A changed cell's memo key (see render) → its XML (b"" if as rendered), and its cells as XlsxWriter
        # stores them (what a chart reading them caches).
        self._cells: dict[tuple, tuple[bytes, dict[Cell, tuple]]] = {}
        self._recorder = _CellRecorder()
        # Each table's columns: where they sit, and the entry column a "number" formula falls back on.
        self._columns = {key: [(layout.tables[key].col(c.key),
                                c.formula.args["x"] if c.formula and c.formula.rule == "number" else None)
                               for c in layout.tables[key].spec.columns] for key in self._tables}
        sst = next((m for m in self._members if m.name == "xl/sharedStrings.xml"), None)
        self._sst: tuple[_Member, bytes, int] | None = None
        self._sst_records: dict[int, tuple[bytes, bytes]] = {}
        if sst is not None:
            xml = sst.content()
            self._sst = (sst, xml, int(_SST_COUNT_RE.search(xml)[1]))
            self._shared_elsewhere = self._sst[2] - sum(p.shared for p in self._parts.values())
        self._find_charts(wb)

    def _find_charts(self, wb: Workbook) -> None:
        """The charts whose series read cells a campaign may change, what they cache as rendered, and where.

        XlsxWriter writes chart N of ``wb.charts`` (sorted as the drawings use them) to
        xl/charts/chartN.xml, and one value list per range formula, shared by the charts.
        """
        layout = self.layout
        changeable: dict[Node, Area] = {
            **{("t", k): (self._sheet_key[tl.sheet], tl.first_row, tl.first_col, tl.last_row, tl.last_col)
               for k, tl in ((k, layout.tables[k]) for k in self._tables)},
            **{("f", k): (self._sheet_key[fl.sheet], fl.row, fl.col, fl.row, fl.col)
               for k, fl in ((k, layout.fields[k]) for k in self._fields)}}
        by_name = {m.name: m for m in self._members}
        self._charts: list[_ChartPart] = []
        self._ranges: dict[str, Area] = {}             # range formula → where, for those that read such cells
        self._charted: set[Node] = set()               # the tables and fields they read
        self._chart_data: dict[str, list] = {}         # every range formula → its values as rendered
        self._chart_records: dict[str, dict[str, tuple[bytes, bytes]]] = {}   # values → rewritten charts
        for n, chart in enumerate(wb.charts, 1):
            formulas = {f: ch.formula_data[i] for ch in (chart, chart.combined) if ch
                        for f, i in ch.formula_ids.items()}
            self._chart_data.update(formulas)
            live = False
            for f in formulas:
                with warnings.catch_warnings():   # a defined name rather than cells: nothing to read
                    warnings.simplefilter("ignore")
                    name, cells = wb._get_chart_range(f)
                if name not in self._sheet_key:
                    continue
                area = (self._sheet_key[name], *cells)
                read = {node for node, (sheet, r0, c0, r1, c1) in changeable.items()
                        if sheet == area[0] and r0 <= area[3] and area[1] <= r1 and c0 <= area[4] and area[2] <= c1}
                if read:
                    if area[0] in {s.key for s in self._schedule_sheets}:
                        raise NotImplementedError("the stamp does not rewrite charts of the schedule's sheet")
                    self._ranges[f], live = area, True
                    self._charted |= read
            if live:
                self._charts.append(_ChartPart(by_name[f"xl/charts/chart{n}.xml"], set(formulas)))
        rendered = self._range_data({})
        self._rendered_key = repr(list(rendered.values()))
        if rendered != {f: self._chart_data[f] for f in self._ranges} or \
                any(p.xml(self._chart_data) != p.rendered for p in self._charts):
            raise RuntimeError("the stamp does not reproduce the rendered charts' caches")

    @staticmethod
    def _record(writer: WorkbookWriter, sheet: Sheet, rec: _CellRecorder | None = None) -> _CellRecorder:
        rec = rec or _CellRecorder()
        getattr(writer, f"_sheet_{sheet.kind}")(rec, sheet)
        return rec

    def _compute_layout(self, retro: Retrospective) -> Layout:
        """The layout to compute: needed nodes only; a row-local table only down to its last entry."""
        sizes = tuple(len(retro.rows(k)) for k in sorted(self._row_local))
        if sizes not in self._compute_layouts:
            tables = dict(self._needed.tables)
            for k, n in zip(sorted(self._row_local), sizes):
                tables[k] = replace(tables[k], rows=n)
            self._compute_layouts[sizes] = replace(self._needed, tables=tables)
        return self._compute_layouts[sizes]

    def _schedule_changes(self, end: date | None, schedule: Schedule | None) -> dict[str, dict[Cell, bytes | None]]:
        """Cells of the info sheets that differ from the rendered copy for this end date (None: removed)."""
        if end in self._schedules:
            self._schedules.move_to_end(end)
            return self._schedules[end]
        writer = WorkbookWriter(self.layout, self._empty, self._base,
                                schedule or make_schedule(self.layout.template, end))
        writer.fmt, writer.wb = self._formats, _NULL
        out = {}
        for s in self._schedule_sheets:
            cells, base = self._record(writer, s, self._recorder.clear()).cells, self._parts[s.key].recorded
            out[s.key] = {k: _cell_xml(k, v) for k, v in cells.items() if base.get(k) != v}
            out[s.key].update({k: None for k in base.keys() - cells.keys()})
        self._schedules[end] = out
        if len(self._schedules) > _SCHEDULES_KEPT:
            self._schedules.popitem(last=False)
        return out

    def render(self, retro: Retrospective, schedule: Schedule | None = None) -> bytes:
        """The workbook for one campaign; ``schedule``: its six-step schedule, when already made."""
        if any(isinstance(v, str) and _ESCAPED.search(v) for v in _entries(retro)):
            return self._written(retro, schedule)
        layout, base = self.layout, self._base
        own = compute(self._compute_layout(retro), retro, self.today)
        end = retro.info.get("end")
        changes = {key: dict(cells) for key, cells in
                   self._schedule_changes(end if isinstance(end, date) else None, schedule).items()}
        cells, writer = self._cells, None
        charted: dict[str, dict[Cell, tuple]] = {}   # sheet → cells that charts read, as this copy has them
        changes.update((key, {}) for key in self._parts.keys() - changes.keys())
        for key in self._fields:
            value = own.field(key)
            if value != base.field(key):
                memo = ("f", key, type(value), value)
                fl = layout.fields[key]
                xml, written = cells.get(memo) or \
                    self._new_cell(memo, self._sheet_key[fl.sheet], self._field_cell, key, value)
                if xml:
                    changes[self._sheet_key[fl.sheet]][(fl.row, fl.col)] = xml
                if ("f", key) in self._charted:
                    charted.setdefault(self._sheet_key[fl.sheet], {}).update(written)
        for key in self._tables:
            tl = layout.tables[key]
            entries = retro.rows(key)
            rows = range(len(entries)) if key in self._row_local else \
                [i for i in range(tl.rows) if i < len(entries) or any(
                    own.table(key, i, c.key) != base.table(key, i, c.key) for c in tl.spec.columns)]
            sheet_key = self._sheet_key[tl.sheet]
            sheet = changes[sheet_key]
            read = charted.setdefault(sheet_key, {}) if ("t", key) in self._charted else None
            for i in rows:
                entry = entries[i] if i < len(entries) else {}
                for c, (col, number_of) in zip(tl.spec.columns, self._columns[key]):
                    # A cell's XML follows from its place, its value and what its formula text takes in.
                    value = own.table(key, i, c.key)
                    memo = (key, i, c.key, type(value), value,
                            own.fallbacks.get(("t", key, i, number_of)) if number_of else None,
                            entry.get(c.key) if c.formula is None and isinstance(entry.get(c.key), Link) else None)
                    hit = cells.get(memo)
                    if hit is None:
                        writer = writer or self._writer(retro, own)
                        hit = self._new_cell(memo, sheet_key, writer._cell, tl, c, i)
                    if hit[0]:
                        sheet[(tl.first_row + i, col)] = hit[0]
                    if read is not None:
                        read.update(hit[1])
        new: dict[str, tuple[bytes, bytes]] = {}
        if self._charts:
            charts = self._rewritten_charts(charted)
            if charts is None:
                return self._written(retro, schedule)
            new.update(charts)
        shared = self._shared_elsewhere if self._sst else 0
        for key, part in self._parts.items():
            if not changes[key]:
                shared += part.shared
                continue
            new[part.member.name], refs = part.with_cells(changes[key])
            shared += refs
        if self._sst is not None:
            new[self._sst[0].name] = self._shared_strings(shared)
        return self._package.assemble(new)

    def _writer(self, retro: Retrospective, own: Values) -> WorkbookWriter:
        """The writer whose cell functions make the cells not seen before (its table cells only)."""
        writer = WorkbookWriter(self.layout, retro, own, Schedule([]))
        writer.fmt = self._formats
        return writer

    def _field_cell(self, rec: _CellRecorder, key: str, value: object) -> None:
        fl = self.layout.fields[key]
        fmt = self._parts[self._sheet_key[fl.sheet]].recorded[(fl.row, fl.col)].format
        if fl.spec.formula:
            write_formula(rec, fl.row, fl.col, self.layout.field_formula(key), value, fmt)
        else:
            write_value(rec, fl.row, fl.col, value, fmt)

    def _new_cell(self, memo: tuple, sheet: str, write: Callable, *args: object) -> tuple[bytes, dict[Cell, tuple]]:
        """A cell written by the writer's own function, as XML (b"" when it is the rendered one), and as
        XlsxWriter stores it."""
        rec = self._recorder.clear()
        write(rec, *args)
        recorded = self._parts[sheet].recorded
        xml = b"".join(_cell_xml(pos, cell) for pos, cell in rec.cells.items() if recorded.get(pos) != cell)
        _remember(self._cells, memo, (xml, rec.cells))
        return xml, rec.cells

    def _range_data(self, changed: dict[str, dict[Cell, tuple]]) -> dict[str, list]:
        """What XlsxWriter caches for each range the charts read: the rendered cells, ``changed`` over them."""
        out = {}
        for f, (sheet, r0, c0, r1, c1) in self._ranges.items():
            recorded, own = self._parts[sheet].recorded, changed.get(sheet, {})
            table: dict[int, dict[int, tuple]] = {}
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    cell = own.get((r, c)) or recorded.get((r, c))
                    if cell is not None:
                        table.setdefault(r, {})[c] = cell
            _RANGE_READER.table = table
            out[f] = _RANGE_READER._get_range_data(r0, c0, r1, c1)
        return out

    def _rewritten_charts(self, changed: dict[str, dict[Cell, tuple]]) -> dict[str, tuple[bytes, bytes]] | None:
        """Zip records of the charts whose caches differ from the rendered ones (None: see ``_ChartPart.xml``)."""
        data = self._range_data(changed)
        key = repr(list(data.values()))    # repr: 1, 1.0 and "1" are cached as different text
        if key == self._rendered_key:
            return {}
        records = self._chart_records.get(key)
        if records is None:
            records, values = {}, {**self._chart_data, **data}
            for part in self._charts:
                xml = part.xml(values)
                if xml is None:
                    return None
                if xml != part.rendered:
                    records[part.member.name] = part.member.with_content(xml)
            if len(self._chart_records) >= _CHARTS_KEPT:
                del self._chart_records[next(iter(self._chart_records))]    # the oldest
            self._chart_records[key] = records
        return records

    def _written(self, retro: Retrospective, schedule: Schedule | None) -> bytes:
        """The workbook written by ``WorkbookWriter`` itself, for text that XML must escape as _xHHHH_
        (control characters, a literal _x0041_): openpyxl undoes that only in shared strings."""
        end = retro.info.get("end")
        values = compute(self.layout, retro, self.today)
        writer = WorkbookWriter(self.layout, retro, values,
                                schedule or make_schedule(self.layout.template, end if isinstance(end, date) else None))
        with tempfile.TemporaryDirectory(prefix="retroxl-stamp-") as tmp:
            path = Path(tmp, "book.xlsx")
            writer.write(path)
            return path.read_bytes()

    def _shared_strings(self, count: int) -> tuple[bytes, bytes]:
        """The shared strings with this copy's reference count (strings no cell uses stay listed)."""
        member, xml, rendered = self._sst
        if count == rendered:
            return member.local, member.central[16:28]
        if count not in self._sst_records:
            self._sst_records[count] = member.with_content(
                xml.replace(b' count="%d"' % rendered, b' count="%d"' % count, 1))
        return self._sst_records[count]
