"""汇总.xlsx, the index of a batch: every row of the campaign list with a link to its workbook,
its due dates and its status.

XlsxWriter takes ~2 s for 10,000 rows (a Python call and a format lookup per cell).
Here it renders only the package around the sheet once (styles, workbook, filter,
panes, widths) from a header and one sample row that uses every format; the
rows, their hyperlinks and the shared strings are then written as XML text,
streamed in slices so a list of any length needs bounded memory.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from xlsxwriter.xmlwriter import XMLwriter

from .files import atomic_output
from .layout import col_letter, quote_text
from .template import Template

if TYPE_CHECKING:
    from .batch import Outcome

WRITTEN, OVERWRITTEN, SKIPPED, FAILED = "written", "overwritten", "skipped", "failed"
STATUS_TEXT = {
    "zh": {WRITTEN: "已生成", OVERWRITTEN: "已覆盖", SKIPPED: "已存在，未覆盖", FAILED: "失败"},
    "en": {WRITTEN: "written", OVERWRITTEN: "overwritten", SKIPPED: "kept (exists)", FAILED: "failed"},
}
URL_LIMIT = 65_530      # hyperlinks Excel allows per worksheet; later rows get HYPERLINK formulas
SLICE = 20_000          # rows turned into XML at a time
MAX_TEXT = 32_767       # characters Excel allows in a cell (XlsxWriter cuts there too)
_SERIAL = date(1899, 12, 30).toordinal()   # a date is its serial number in a date format

_SHEET = "xl/worksheets/sheet1.xml"
_RELS = "xl/worksheets/_rels/sheet1.xml.rels"
_STRINGS = "xl/sharedStrings.xml"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_LINK_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_CONTROL = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = re.compile(r"^\s|\s$")


def write_index(path: Path, outcomes: Sequence[Outcome], tpl: Template, lang: str) -> Path:
    """Write 汇总.xlsx for ``outcomes`` (atomically: a reader never sees half of it)."""
    zh = lang == "zh"
    steps = [s.name[lang] for s in tpl.sheet("info").steps] if tpl.has("info") else []
    header = (["行号", "活动名称", "开始日期", "结束日期", "负责人", "模板", "文件"] if zh else
              ["Row", "Campaign", "Start", "End", "Owner", "Template", "File"]) + \
        [f"{s}{'截止' if zh else ' due'}" for s in steps] + (["状态", "说明"] if zh else ["Status", "Note"])
    package, styles = _shell(header, len(steps), max(len(outcomes), 1), lang)
    strings = _Strings()
    rows = _Rows(outcomes, header, len(steps), styles, strings, lang)
    with atomic_output(path, force=True) as tmp, zipfile.ZipFile(tmp, "w") as zf, \
            zipfile.ZipFile(io.BytesIO(package)) as rendered:
        for info in rendered.infolist():
            if info.filename == _SHEET:
                # The rendered sheet around its rows and hyperlinks: dimension, panes, widths, filter.
                before, rest = rendered.read(info).decode().split("<sheetData>", 1)
                between, rest = rest.split("</sheetData>", 1)[1].split("<hyperlinks>", 1)
                after = rest.split("</hyperlinks>", 1)[1]
                before = re.sub(r'<dimension ref="[^"]*"/>',
                                f'<dimension ref="A1:{col_letter(len(header) - 1)}{len(outcomes) + 1}"/>', before)
                _stream(zf, info, chain([before, "<sheetData>"], rows.xml(), ["</sheetData>", between],
                                        rows.hyperlinks(), [after]))
            elif info.filename == _STRINGS:
                _stream(zf, info, strings.xml())
            elif info.filename == _RELS:
                if rows.links:
                    _stream(zf, info, rows.relationships())
            else:
                zf.writestr(info, rendered.read(info))
    return path


def _shell(header: list[str], steps: int, rows: int, lang: str) -> tuple[bytes, dict[str, int]]:
    """The package XlsxWriter makes for the index, with a sample row in place of the real ones,
    and the style index of each format."""
    import xlsxwriter

    zh = lang == "zh"
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    wb.set_properties({"title": "汇总" if zh else "Index", "created": datetime(2024, 1, 1)})
    font = {"font_name": "Microsoft YaHei" if zh else "Calibri", "font_size": 10}
    formats = {"head": wb.add_format({**font, "bold": True, "font_color": "white", "bg_color": "#1F4E78",
                                      "border": 1}),
               "text": wb.add_format(font),
               "day": wb.add_format({**font, "num_format": "yyyy-mm-dd"}),
               "link": wb.add_format({**font, "font_color": "#0563C1", "underline": 1}),
               "bad": wb.add_format({**font, "font_color": "#9C0006", "bg_color": "#FFC7CE"})}
    ws = wb.add_worksheet("汇总" if zh else "Index")
    for c, h in enumerate(header):
        ws.write_string(0, c, h, formats["head"])
    # The sample row: every format in use, so that styles.xml holds them all; a link, so that
    # the sheet has its relationships part.
    ws.write_number(1, 0, 1, formats["text"])
    ws.write_number(1, 2, 1, formats["day"])
    ws.write_url(1, 6, "external:x.xlsx", formats["link"], string="x.xlsx")
    ws.write_string(1, 7 + steps, "x", formats["bad"])
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, rows, len(header) - 1)
    for c, w in enumerate([6, 28, 11, 11, 10, 10, 32] + [12] * steps + [12, 40]):
        ws.set_column(c, c, w)
    wb.close()
    return buf.getvalue(), {k: f._get_xf_index() for k, f in formats.items()}


def _stream(zf: zipfile.ZipFile, rendered: zipfile.ZipInfo, pieces: Iterable[str]) -> None:
    """A member as the rendered one (name, date, attributes), with new content written piece by piece."""
    info = zipfile.ZipInfo(rendered.filename, rendered.date_time)
    info.compress_type, info.external_attr, info.create_system = \
        rendered.compress_type, rendered.external_attr, rendered.create_system
    with zf.open(info, "w") as out:
        for piece in pieces:
            out.write(piece.encode())


def _text(s: str) -> str:
    """Text for XML character data, with Excel's _xHHHH_ escapes as XlsxWriter writes them."""
    if _CONTROL.search(s):
        s = XMLwriter._escape_control_characters(s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace("\n", "&#xA;")


class _Strings:
    """The shared-string table: each distinct text once, in order of first use."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def __call__(self, s: str) -> int:
        self.count += 1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.index)
        return i

    def xml(self) -> Iterator[str]:
        yield (f'{_XML_HEAD}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               f'count="{self.count}" uniqueCount="{len(self.index)}">')
        texts = list(self.index)
        for at in range(0, len(texts), SLICE):
            yield "".join(f'<si><t xml:space="preserve">{_text(s)}</t></si>' if _EDGE_SPACE.search(s) else
                          f"<si><t>{_text(s)}</t></si>" for s in texts[at:at + SLICE])
        yield "</sst>"


class _Rows:
    """The header and one row per outcome, as sheet XML; the hyperlinks they need."""

    def __init__(self, outcomes: Sequence[Outcome], header: list[str], steps: int, styles: dict[str, int],
                 strings: _Strings, lang: str) -> None:
        self.outcomes, self.header, self.steps, self.strings = outcomes, header, steps, strings
        self.s, self.status = styles, STATUS_TEXT[lang]
        self.letters = [col_letter(c) for c in range(len(header))]
        self.links: list[tuple[int, str]] = []    # (sheet row, file) for each hyperlink

    def xml(self) -> Iterator[str]:
        head, letters, text = self.s["head"], self.letters, self.strings
        yield '<row r="1">' + "".join(f'<c r="{letters[c]}1" s="{head}" t="s"><v>{text(h)}</v></c>'
                                      for c, h in enumerate(self.header)) + "</row>"
        for at in range(0, len(self.outcomes), SLICE):
            yield "".join(self._row(r, o) for r, o in enumerate(self.outcomes[at:at + SLICE], start=at + 2))

    def _row(self, r: int, o: Outcome) -> str:
        letters, strings, s = self.letters, self.strings, self.s
        plain, day = s["text"], s["day"]
        cells = [f'<row r="{r}"><c r="A{r}" s="{plain}"><v>{o.row}</v></c>']
        if o.campaign:
            cells.append(f'<c r="B{r}" s="{plain}" t="s"><v>{strings(o.campaign[:MAX_TEXT])}</v></c>')
        for c, d in ((2, o.start), (3, o.end)):
            if d:
                cells.append(f'<c r="{letters[c]}{r}" s="{day}"><v>{d.toordinal() - _SERIAL}</v></c>')
        for c, v in ((4, o.owner), (5, o.template)):
            if v:
                cells.append(f'<c r="{letters[c]}{r}" s="{plain}" t="s"><v>{strings(v[:MAX_TEXT])}</v></c>')
        if o.file and o.status != FAILED:
            if len(self.links) < URL_LIMIT:
                self.links.append((r, o.file))
                cells.append(f'<c r="G{r}" s="{s["link"]}" t="s"><v>{strings(o.file)}</v></c>')
            else:
                formula = _text(f"HYPERLINK({quote_text(o.file)},{quote_text(o.file)})")
                cells.append(f'<c r="G{r}" s="{s["link"]}" t="str"><f>{formula}</f><v>{_text(o.file)}</v></c>')
        elif o.file:
            cells.append(f'<c r="G{r}" s="{plain}" t="s"><v>{strings(o.file)}</v></c>')
        for i, d in enumerate(o.due[:self.steps]):
            if d:
                cells.append(f'<c r="{letters[7 + i]}{r}" s="{day}"><v>{d.toordinal() - _SERIAL}</v></c>')
        c = 7 + self.steps
        cells.append(f'<c r="{letters[c]}{r}" s="{s["bad"] if o.status == FAILED else plain}" t="s">'
                     f'<v>{strings(self.status[o.status])}</v></c>')
        if o.reason:
            cells.append(f'<c r="{letters[c + 1]}{r}" s="{plain}" t="s"><v>{strings(o.reason[:MAX_TEXT])}</v></c>')
        cells.append("</row>")
        return "".join(cells)

    def hyperlinks(self) -> Iterator[str]:
        if not self.links:
            return
        yield "<hyperlinks>"
        for at in range(0, len(self.links), SLICE):
            yield "".join(f'<hyperlink ref="G{r}" r:id="rId{i}"/>'
                          for i, (r, _) in enumerate(self.links[at:at + SLICE], start=at + 1))
        yield "</hyperlinks>"

    def relationships(self) -> Iterator[str]:
        yield f'{_XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        for at in range(0, len(self.links), SLICE):
            yield "".join(f'<Relationship Id="rId{i}" Type="{_LINK_TYPE}" Target="{_attribute(_target(f))}" '
                          f'TargetMode="External"/>' for i, (_, f) in enumerate(self.links[at:at + SLICE],
                                                                                 start=at + 1))
        yield "</Relationships>"


def _target(file: str) -> str:
    """A file name as Excel writes it in a link's target (XlsxWriter's escapes)."""
    if re.search("%[0-9a-fA-F]{2}", file):
        return file.replace("#", "%23")
    for a, b in (("%", "%25"), ('"', "%22"), (" ", "%20"), ("<", "%3c"), (">", "%3e"), ("[", "%5b"),
                 ("]", "%5d"), ("^", "%5e"), ("`", "%60"), ("{", "%7b"), ("}", "%7d"), ("#", "%23")):
        file = file.replace(a, b)
    return file
