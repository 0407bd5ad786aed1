"""The live adapter on xlwings' JSON-payload book (the engine of xlwings Lite), no Excel needed.

The payload is built from a workbook file the way xlwings Lite's client builds it
(values as Excel shows them, dates as ISO strings, tables, notes, names); writes are
queued as actions, which is what the tests count and inspect.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from retroxl.books.base import HISTORY_AUTHOR, Book, CellRef, Formula, Mark, Note
from retroxl.books.live import FILLS, NOTE_PREFIX, REGISTRY_SHEET, LiveBook, as_text, bands, parse_rect, runs
from retroxl.layout import a1, col_letter
from retroxl.rules import ExcelError


# ---------------------------------------------------------------- the JSON-payload book

def _js(value: object) -> object:
    """A cell value as Office.js sends it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00.000Z"
    return value


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _package(path: Path) -> tuple[dict[str, tuple[list[dict], list[str]]], list[tuple[str, str]]]:
    """Per sheet name: (tables, note addresses); and the defined names, read from the package parts."""
    import posixpath
    import xml.etree.ElementTree as ET
    import zipfile

    with zipfile.ZipFile(path) as z:
        def rels(part: str) -> dict[str, str]:
            folder, name = posixpath.split(part)
            rel = posixpath.join(folder, "_rels", name + ".rels")
            if rel not in z.namelist():
                return {}
            return {r.get("Id"): posixpath.normpath(posixpath.join(folder, r.get("Target")))
                    for r in ET.fromstring(z.read(rel))}

        workbook = ET.fromstring(z.read("xl/workbook.xml"))
        targets = rels("xl/workbook.xml")
        out = {}
        for sheet in workbook.iter(f"{_MAIN}sheet"):
            part = targets[sheet.get(_REL)]
            tables, notes = [], []
            for target in rels(part).values():
                if "/tables/" in target:
                    t = ET.fromstring(z.read(target))
                    tables.append({"name": t.get("name"), "range_address": t.get("ref")})
                elif "/comments" in target:
                    notes += [c.get("ref") for c in ET.fromstring(z.read(target)).iter(f"{_MAIN}comment")]
            out[sheet.get("name")] = (tables, notes)
        names = [(d.get("name"), d.text) for d in workbook.iter(f"{_MAIN}definedName")]
    return out, names


def payload_from_file(path: Path, stale: bool = False) -> tuple[dict, dict[str, list[list[object]]]]:
    """(payload, formulas) for a workbook file: what xlwings Lite sends, and what its formula fetch returns.

    Values come from python-calamine (the cached results, as Excel shows them), formulas
    from openpyxl, tables, notes and names from the package parts. ``stale`` shows 0 in
    every formula cell (a book last saved by a program that never calculates), so recalc
    has every computed cell to write.
    """
    import openpyxl
    from python_calamine import CalamineWorkbook

    calamine = CalamineWorkbook.from_path(str(path))
    formula_wb = openpyxl.load_workbook(path, read_only=True)
    parts, defined = _package(path)
    sheets, formulas = [], {}
    for ws in formula_wb.worksheets:
        grid = [[c.value for c in row] for row in ws.iter_rows()]
        shown = calamine.get_sheet_by_name(ws.title).to_python(skip_empty_area=False)
        rows = max(len(grid), len(shown), 1)
        cols = max([len(r) for r in grid] + [len(r) for r in shown] + [1])
        values = [[_js(shown[r][c]) if r < len(shown) and c < len(shown[r]) else "" for c in range(cols)]
                  for r in range(rows)]
        if stale:
            for r, row in enumerate(grid):
                for c, formula in enumerate(row):
                    if isinstance(formula, str) and formula.startswith("="):
                        values[r][c] = 0
        formulas[ws.title] = grid
        tables, notes = parts[ws.title]
        sheets.append({
            "name": ws.title, "values": values, "pictures": [],
            "tables": [{**t, "header_row_range_address": None, "data_body_range_address": None,
                        "total_row_range_address": None, "show_headers": True, "show_totals": False,
                        "table_style": "TableStyleLight9", "show_autofilter": True} for t in tables],
            "notes": [{"address": a} for a in notes],
        })
    formula_wb.close()
    order = [s["name"] for s in sheets]
    names = []
    for name, ref in defined:
        sheet, _, address = (ref or "").rpartition("!")
        sheet = sheet.strip("'").replace("''", "'")
        if sheet in order and not name.startswith("_xlnm."):
            names.append({"name": name, "sheet_index": order.index(sheet), "address": address,
                          "scope_sheet_name": None, "scope_sheet_index": None, "book_scope": True})
    payload = {"client": "Office.js", "version": _xlwings_version(), "names": names, "sheets": sheets,
               "book": {"name": path.name, "active_sheet_index": 0, "selection": "A1"}}
    return payload, formulas


def _xlwings_version() -> str:
    import xlwings

    return xlwings.__version__


def _payload(sheets: dict[str, list[list[object]]], notes: dict[str, list[str]] | None = None) -> dict:
    return {"client": "Office.js", "version": _xlwings_version(), "names": [],
            "book": {"name": "复盘.xlsx", "active_sheet_index": 0, "selection": "A1"},
            "sheets": [{"name": n, "values": v, "pictures": [], "tables": [],
                        "notes": [{"address": a} for a in (notes or {}).get(n, [])]} for n, v in sheets.items()]}


def actions(book) -> list[dict]:
    return book.json()["actions"]


# ---------------------------------------------------------------- pure helpers

def test_bands_group_written_cells_into_rectangles():
    assert bands([[1, 2], [3, 4]]) == [(0, 0, 1, 1)]
    assert bands([[1, None, 2], [3, None, 4]]) == [(0, 0, 1, 0), (0, 2, 1, 2)]
    assert bands([[1], [None], [2]]) == [(0, 0, 0, 0), (2, 0, 2, 0)]
    assert bands([[None, None]]) == []
    assert bands([[1, 2]] * 10_000) == [(0, 0, 9_999, 1)]


def test_runs_split_on_gaps_and_on_a_change_of_key():
    cells = [(1, 0), (2, 0), (3, 0), (7, 0), (1, 2)]
    assert runs(cells) == [(0, 1, 3), (0, 7, 7), (2, 1, 1)]
    key = {(1, 0): "a", (2, 0): "a", (3, 0): "b", (7, 0): "b", (1, 2): "a"}
    assert runs(cells, key) == [(0, 1, 2), (0, 3, 3), (0, 7, 7), (2, 1, 1)]


def test_parse_rect():
    assert parse_rect("$A$3:$N$12") == (2, 0, 11, 13)
    assert parse_rect("'表2 关键指标'!B2") == (1, 1, 1, 1)
    with pytest.raises(ValueError):
        parse_rect("not a range")


@pytest.mark.parametrize("text, kept", [
    ("=1+1", "'=1+1"), ("+86 123", "'+86 123"), ("-5", "'-5"), ("@home", "'@home"), ("5%", "'5%"),
    ("2024-06-01", "'2024-06-01"), ("1:3.8", "'1:3.8"), ("1,234", "'1,234"), ("TRUE", "'TRUE"),
    ("120万次", "120万次"), ("张经理", "张经理"), ("下次活动前", "下次活动前"), ("", ""),
])
def test_text_is_written_so_excel_keeps_it_as_typed(text, kept):
    assert as_text(text) == kept


# ---------------------------------------------------------------- the adapter

def test_live_book_is_a_book(xw):
    book = LiveBook(xw.Book(json=_payload({"S": [["a"]]})))
    assert isinstance(book, Book)


def test_reads_values_errors_and_dates(xw):
    book = LiveBook(xw.Book(json=_payload({"S": [["目标值", "实际值", "达成率", "完成时限"],
                                                 [5000, "6200件", "#DIV/0!", "2024-06-21T00:00:00.000Z"],
                                                 ["", "", "", ""]]})))
    assert book.sheet_names() == ["S"]
    assert book.extent("S") == (3, 4)
    rows = book.read("S", (0, 0, 2, 3))
    assert rows[1][:2] == [5000, "6200件"]
    assert isinstance(rows[1][2], ExcelError) and rows[1][2] == "#DIV/0!"
    assert rows[1][3] == datetime(2024, 6, 21)
    assert rows[2] == [None] * 4


def test_one_block_is_one_call_whatever_the_rows(xw):
    counts = []
    for n in (100, 10_000):
        xl = xw.Book(json=_payload({"S": [["x"]]}))
        LiveBook(xl).write_values("S", 1, 0, [[i, f"{i}件", None, "=bad"] for i in range(n)])
        LiveBook(xl).write_formulas("S", 1, 5, [[Formula(f"=A{i + 2}*2", 0)] for i in range(n)])
        counts.append(len(actions(xl)))
    assert counts == [3, 3]   # A:B, D (C skipped), F


def test_written_text_never_becomes_a_formula(xw):
    xl = xw.Book(json=_payload({"S": [["x"]]}))
    LiveBook(xl).write_values("S", 0, 0, [["=HYPERLINK(\"http://evil\")", "120万次", 3.5, date(2024, 6, 1), ""]])
    (action,) = actions(xl)
    assert action["func"] == "setValues"
    assert action["values"] == [["'=HYPERLINK(\"http://evil\")", "120万次", 3.5, "2024-06-01", ""]]


def test_skipped_cells_are_left_alone(xw):
    xl = xw.Book(json=_payload({"S": [["x"]]}))
    LiveBook(xl).write_values("S", 4, 2, [[1, 2], [None, None], [5, None]])
    got = [(a["start_row"], a["start_column"], a["values"]) for a in actions(xl)]
    assert got == [(4, 2, [[1, 2]]), (6, 2, [[5]])]


def test_read_formulas_uses_the_prefetched_sheet(xw):
    xl = xw.Book(json=_payload({"S": [["a", 1], ["b", 2]]}))
    book = LiveBook(xl, formulas={"S": [["a", "=1"], ["b", "=A1&B1"]]})
    assert book.read_formulas("S", (0, 0, 1, 1)) == [[None, "=1"], [None, "=A1&B1"]]
    assert book.read_formulas("S", (1, 1, 3, 2)) == [["=A1&B1", None], [None, None], [None, None]]


def test_marks_colour_runs_add_notes_and_keep_a_persons_note(xw):
    sheet = "表2 关键指标"
    xl = xw.Book(json=_payload({sheet: [["h"] * 8 for _ in range(12)]}, notes={sheet: ["$E$6"]}))
    book = LiveBook(xl)
    marks = [Mark(sheet, r, 4, "error", f"第{r}行目标值不是数值") for r in (3, 4, 5)] + [
        Mark(sheet, 5, 4, "warning", "另一条"), Mark(sheet, 9, 4, "warning", "往期值缺失"),
        Mark(sheet, 3, 6, "info", "提示")]
    book.set_marks(marks)
    acts = actions(xl)
    colours = [(a["start_row"], a["start_column"], a["row_count"], a["args"][0]) for a in acts
               if a["func"] == "setRangeColor"]
    assert colours == [(3, 4, 3, FILLS["error"].upper()), (9, 4, 1, FILLS["warning"].upper()),
                       (3, 6, 1, FILLS["info"].upper())]
    notes = [a["args"] for a in acts if a["func"] == "addNote"]
    # E6 (row 5) already carries a person's note: it keeps it, the fill still shows the finding
    assert notes == [["$E$4", NOTE_PREFIX + "第3行目标值不是数值"], ["$E$5", NOTE_PREFIX + "第4行目标值不是数值"],
                     ["$E$10", NOTE_PREFIX + "往期值缺失"], ["$G$4", NOTE_PREFIX + "提示"]]
    added = [a for a in acts if a["func"] == "addSheet"]
    assert added and added[0]["args"][1] == REGISTRY_SHEET
    assert any(a["func"] == "setSheetVisibility" for a in acts)


def test_history_notes_are_signed_and_keep_a_persons_note(xw):
    sheet = "表2 关键指标"
    xl = xw.Book(json=_payload({sheet: [["h"] * 8 for _ in range(6)]}, notes={sheet: ["$H$5"]}))
    LiveBook(xl).add_notes([Note(sheet, 3, 7, "往期值取自「A」"), Note(sheet, 4, 7, "往期值取自「B」")])
    notes = [a["args"] for a in actions(xl) if a["func"] == "addNote"]
    assert notes == [["$H$4", f"{HISTORY_AUTHOR}:\n往期值取自「A」"]]   # H5 keeps the person's note


def test_clear_marks_removes_exactly_what_set_marks_added(xw):
    sheet = "表2 关键指标"
    registry = [["sheet", "row", "col", "note"], [sheet, 3, 4, 1], [sheet, 4, 4, 1], [sheet, 5, 4, 0]]
    xl = xw.Book(json=_payload({sheet: [["h"] * 8 for _ in range(12)], REGISTRY_SHEET: registry},
                               notes={sheet: ["$E$4", "$E$5", "$E$6", "$B$2"]}))
    LiveBook(xl).clear_marks()
    acts = actions(xl)
    assert [a["args"] for a in acts if a["func"] == "deleteNote"] == [["$E$4"], ["$E$5"]]  # not E6 nor B2
    fills = [(a["start_row"], a["start_column"], a["row_count"], a["args"][0]) for a in acts
             if a["func"] == "setRangeColor"]
    assert fills == [(3, 4, 3, None)]
    assert any(a["func"] == "sheetClearContents" and a["sheet_position"] == 1 for a in acts)


def test_put_sheet_writes_rows_and_links_in_one_block(xw):
    xl = xw.Book(json=_payload({"表2 关键指标": [["x"]]}))
    target = CellRef("表2 关键指标", 4, 4)
    rows = [["严重程度", "位置", "说明"], ["error", "E5", "=不是公式"]]
    LiveBook(xl).put_sheet("校验", rows, links={(1, 1): target}, widths=[10, 12, 40])
    acts = actions(xl)
    assert acts[0]["func"] == "addSheet" and acts[0]["args"] == [1, "校验"]
    (write,) = [a for a in acts if a["func"] == "setValues"]
    assert write["values"] == [["严重程度", "位置", "说明"],
                               ["error", "=HYPERLINK(\"#'表2 关键指标'!E5\",\"E5\")", "'=不是公式"]]
    assert [a["func"] for a in acts].count("setColumnWidth") == 3


def test_put_sheet_replaces_an_existing_sheet(xw):
    xl = xw.Book(json=_payload({"表1": [["x"]], "校验": [["old"]]}))
    LiveBook(xl).put_sheet("校验", [["new"]])
    funcs = [a["func"] for a in actions(xl)]
    assert "addSheet" not in funcs and funcs[0] in ("sheetClear", "rangeClear")


def test_tables_come_from_the_payload(xw, tmp_path):
    import xlsxwriter

    path = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("S")
    ws.add_table(2, 0, 5, 3, {"name": "tbl_goals", "columns": [{"header": h} for h in "ABCD"]})
    wb.close()
    payload, _ = payload_from_file(path)
    assert LiveBook(xw.Book(json=payload)).tables("S") == {"tbl_goals": (2, 0, 5, 3)}


def test_address_helpers_agree_with_layout():
    for row, col in [(0, 0), (9, 25), (10_000, 27)]:
        assert parse_rect(a1(row, col)) == (row, col, row, col)
        assert col_letter(col).isalpha()


# ---------------------------------------------------------------- recalc + validate on a live book

TODAY = date(2024, 6, 18)


def _filled(rows: int):
    """The published example, one 表2 row typed as text (120万次…), and clean numeric rows up to ``rows``."""
    from retroxl.demo import demo_retrospective

    retro = demo_retrospective()
    indicators = list(retro.tables["indicators"])
    indicators.append({"type": "流量", "indicator": "文字填写的指标", "unit": "次", "direction": "越高越好",
                       "target": "100万次", "actual": "120万次", "previous": "80万", "source": "后台数据",
                       "analysis": "填写为文字"})
    indicators += [{"type": "流量", "indicator": f"渠道{i}曝光量", "unit": "次", "direction": "越高越好",
                    "target": 1_000_000, "actual": 1_200_000 + i, "previous": 800_000, "source": "后台数据",
                    "analysis": ""} for i in range(rows - len(indicators))]
    retro.tables["indicators"] = indicators
    return retro


class _Workbooks(dict):
    """Generated, filled workbooks by 表2 row count, made on first use."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, rows: int) -> Path:
        from retroxl.generate import new_workbook

        self[rows] = new_workbook(self.folder / f"复盘-{rows}.xlsx", _filled(rows), today=TODAY)
        return self[rows]


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    return _Workbooks(tmp_path_factory.mktemp("live"))


def live_recalc(xw, path: Path, payload: dict | None = None, formulas: dict | None = None):
    from retroxl.recalc import recalc_book

    import copy

    if payload is None:
        payload, formulas = payload_from_file(path)
    book = xw.Book(json=copy.deepcopy(payload))  # xlwings keeps its own payload up to date
    result = recalc_book(LiveBook(book, formulas), today=TODAY, name=path.name)
    return result, actions(book), payload


def _grid(payload: dict, acts: list[dict]) -> dict[tuple[str, int, int], object]:
    """Every cell a setValues wrote: (sheet, row, col) → value (sheets added along the way included)."""
    names = [s["name"] for s in payload["sheets"]]
    out = {}
    for a in acts:
        if a["func"] == "addSheet":
            names.insert(a["args"][0], a["args"][1])
        elif a["func"] == "setValues":
            for i, row in enumerate(a["values"]):
                for j, v in enumerate(row):
                    out[(names[a["sheet_position"]], a["start_row"] + i, a["start_column"] + j)] = v
    return out


def test_queued_writes_are_what_file_mode_recalc_writes(xw, workbooks, tmp_path):
    import openpyxl

    from retroxl.recalc import recalc

    path = workbooks[100]
    result, acts, payload = live_recalc(xw, path, *payload_from_file(path, stale=True))
    file_result = recalc(path, tmp_path / "file-mode.xlsx", today=TODAY)
    assert [f for f in result.report.findings] == [f for f in file_result.report.findings]
    assert result.cells == file_result.cells > 900

    written = _grid(payload, acts)
    wb = openpyxl.load_workbook(file_result.path)
    compared = 0
    for (sheet, row, col), value in written.items():
        if sheet == REGISTRY_SHEET:
            continue
        cell = wb[sheet].cell(row + 1, col + 1)
        if isinstance(value, str) and value.startswith("=HYPERLINK("):
            target = f"#{cell.hyperlink.location}" if cell.hyperlink and cell.hyperlink.location else None
            assert value == f'=HYPERLINK("{target}","{cell.value}")', (sheet, row, col)
        elif isinstance(cell.value, datetime):
            assert value == cell.value.date().isoformat()
        else:
            assert (value if value != "" else None) == cell.value, (sheet, row, col)
        compared += 1
    assert compared > 950
    # The text row (sheet row 7) carries its parsed numbers as the hidden columns' fallbacks
    sheet = next(s for s in payload["sheets"] if s["name"] == "表2 关键指标")
    header = sheet["values"][2]
    for head, number in (("目标值（数值）", "1000000.0"), ("实际值（数值）", "1200000.0"), ("往期值（数值）", "800000.0")):
        col = header.index(head)
        assert number in written[("表2 关键指标", 6, col)]
        assert number not in written[("表2 关键指标", 7, col)]


def test_flagged_cells_get_a_colour_and_a_note(xw, workbooks, tmp_path):
    import openpyxl

    from retroxl.recalc import recalc

    path = workbooks[100]
    result, acts, _ = live_recalc(xw, path)
    flagged = {(f.sheet, f.cell) for f in result.report.findings if f.cell}
    assert flagged == {("表2 关键指标", c) for c in ("E7", "F7", "H7")}    # the text entries (R102 info)
    noted = {a["args"][0].replace("$", "") for a in acts if a["func"] == "addNote"}
    assert {("表2 关键指标", c) for c in noted} == flagged
    coloured = set()
    for a in acts:
        if a["func"] == "setRangeColor":
            assert a["args"][0] == FILLS["info"].upper()
            coloured |= {(a["start_row"] + i, a["start_column"] + j)
                         for i in range(a["row_count"]) for j in range(a["column_count"])}
    assert {a1(r, c) for r, c in coloured} == {c for _, c in flagged}
    # file mode notes the same cells
    file_wb = openpyxl.load_workbook(recalc(path, tmp_path / "f.xlsx", today=TODAY).path)
    file_notes = {c.coordinate for row in file_wb["表2 关键指标"].iter_rows() for c in row if c.comment}
    assert file_notes == noted


def test_the_number_of_excel_calls_does_not_grow_with_rows(xw, workbooks):
    from collections import Counter

    counts = {}
    for n in (100, 10_000):
        result, acts, payload = live_recalc(xw, workbooks[n], *payload_from_file(workbooks[n], stale=True))
        assert len(payload["sheets"][2]["values"]) == n + 3       # title, hint, header + n rows
        counts[n] = Counter(a["func"] for a in acts)
        writes = [a for a in acts if a["func"] == "setValues" and a["sheet_position"] == 2]
        assert max(a["row_count"] for a in writes) == n           # whole columns in one call
    assert counts[100] == counts[10_000]
    assert sum(counts[100].values()) < 60


def _apply(payload: dict, acts: list[dict], formulas: dict) -> tuple[dict, dict]:
    """What Excel holds after the actions (values, formulas, notes), as the next payload."""
    import copy

    payload, formulas = copy.deepcopy(payload), copy.deepcopy(formulas)
    sheets = payload["sheets"]
    for a in acts:
        func = a["func"]
        if func == "addSheet":
            sheets.insert(a["args"][0], {"name": a["args"][1], "values": [[""]], "pictures": [], "tables": [],
                                         "notes": []})
            formulas[a["args"][1]] = [[None]]
            continue
        if a.get("sheet_position") is None:
            continue
        sheet = sheets[a["sheet_position"]]
        grid, fgrid = sheet["values"], formulas[sheet["name"]]
        if func == "setValues":
            for i, row in enumerate(a["values"]):
                r = a["start_row"] + i
                for j, v in enumerate(row):
                    c = a["start_column"] + j
                    for g, fill in ((grid, ""), (fgrid, None)):
                        while len(g) <= r:
                            g.append([fill] * len(g[0]))
                        for line in g:
                            line.extend([fill] * (c + 1 - len(line)))
                    text = v[1:] if isinstance(v, str) and v.startswith("'") else v
                    if not (isinstance(v, str) and v.startswith("=")):
                        grid[r][c] = text
                    fgrid[r][c] = text
        elif func in ("sheetClearContents", "sheetClear"):
            sheet["values"], formulas[sheet["name"]] = [[""]], [[None]]
        elif func == "addNote":
            sheet["notes"].append({"address": a["args"][0]})
        elif func == "deleteNote":
            sheet["notes"] = [n for n in sheet["notes"] if n["address"] != a["args"][0]]
    return payload, formulas


def test_a_second_run_removes_its_own_marks_and_keeps_a_persons_note(xw, workbooks):
    path = workbooks[100]
    payload, formulas = payload_from_file(path)
    sheet = next(s for s in payload["sheets"] if s["name"] == "表2 关键指标")
    sheet["notes"].append({"address": "$F$7"})                    # a person's note on a flagged cell
    _, first, _ = live_recalc(xw, path, payload, formulas)
    assert [a["args"][0] for a in first if a["func"] == "addNote"] == ["$E$7", "$H$7"]

    after, after_formulas = _apply(payload, first, formulas)
    assert REGISTRY_SHEET in [s["name"] for s in after["sheets"]]
    _, second, _ = live_recalc(xw, path, after, after_formulas)
    assert [a["args"][0] for a in second if a["func"] == "deleteNote"] == ["$E$7", "$H$7"]
    cleared = [a for a in second if a["func"] == "setRangeColor" and a["args"][0] is None]
    assert [(a["start_row"], a["start_column"], a["row_count"], a["column_count"]) for a in cleared] == [
        (6, 4, 1, 2), (6, 7, 1, 1)]                                # E7:F7 in one call, H7
    assert [a["args"][0] for a in second if a["func"] == "addNote"] == ["$E$7", "$H$7"]
    assert not [a for a in second if a["func"] == "addSheet"]     # 校验 and the registry are reused


def test_a_workbook_without_retrospective_sheets_gets_one_line(xw):
    from retroxl.recalc import recalc_book
    from retroxl.errors import RetroxlError

    book = LiveBook(xw.Book(json=_payload({"Sheet1": [["hello"]]})))
    with pytest.raises(RetroxlError, match="no retrospective sheets"):
        recalc_book(book, today=TODAY)


def test_the_marks_use_the_file_adapters_colours():
    from retroxl.books.ooxml import MARK_FILLS

    assert {k: "#" + v[2:] for k, v in MARK_FILLS.items()} == FILLS


# ---------------------------------------------------------------- 新建复盘表 / 生成示例 on a live book

@pytest.mark.parametrize("example", [False, True])
def test_added_sheets_hold_what_retroxl_new_writes(xw, tmp_path, example):
    import openpyxl

    from retroxl.books.live import add_standard_sheets
    from retroxl.demo import demo_retrospective
    from retroxl.generate import new_workbook

    retro = demo_retrospective() if example else None
    payload = _payload({"Sheet1": [["已有内容"]]})
    book = xw.Book(json=payload)
    names = add_standard_sheets(book, retro, today=TODAY)
    acts = actions(book)
    file_wb = openpyxl.load_workbook(new_workbook(tmp_path / "new.xlsx", retro, today=TODAY))
    assert names == file_wb.sheetnames
    assert [a["args"] for a in acts if a["func"] == "addSheet"] == [[i + 1, n] for i, n in enumerate(names)]

    written = {k: (v[1:] if isinstance(v, str) and v.startswith("'") else v)
               for k, v in _grid(payload, acts).items() if v not in ("", None)}
    expected = {}
    for ws in file_wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value not in (None, ""):
                    value = c.value
                    if isinstance(value, datetime):
                        value = value.date().isoformat()
                    expected[(ws.title, c.row - 1, c.column - 1)] = value
    assert written == expected

    tables = sorted((a["args"][3], a["args"][0].replace("$", "")) for a in acts if a["func"] == "addTable")
    assert tables == sorted((t.name, t.ref) for ws in file_wb.worksheets for t in ws.tables.values())
    defined = {a["args"][0]: a["args"][1] for a in acts if a["func"] == "namesAdd"}
    assert defined == {n: d.attr_text if d.attr_text.startswith("=") else "=" + d.attr_text
                       for n, d in file_wb.defined_names.items() if not n.startswith("_xlnm")}
    # every action is bounded by the template, not by the data
    assert len(acts) < 600


def test_sheets_are_not_added_twice(xw):
    from retroxl.books.live import add_standard_sheets
    from retroxl.errors import RetroxlError

    book = xw.Book(json=_payload({"说明": [["x"]]}))
    with pytest.raises(RetroxlError, match="说明"):
        add_standard_sheets(book)
    assert actions(book) == []


class _DesktopRange:
    """Stands in for a desktop-Excel range: formulas read synchronously, in Excel's short form."""

    def __init__(self, formula):
        self.formula = formula


class _DesktopSheet:
    def __init__(self, formulas):
        self.formulas, self.name = formulas, "表1 活动概览"
        self.tables = [type("T", (), {"name": "tbl_goals", "range": type("R", (), {"address": "$A$3:$H$8"})})]

    def range(self, first, last):
        (r1, c1), (r2, c2) = first, last
        block = [row[c1 - 1:c2] for row in self.formulas[r1 - 1:r2]]
        if len(block) == 1 and len(block[0]) == 1:
            return _DesktopRange(block[0][0])          # one cell: a bare value
        if len(block) == 1:
            return _DesktopRange(tuple(block[0]))       # one row: a flat tuple
        return _DesktopRange(tuple(tuple(r) for r in block))


def test_desktop_formulas_are_read_on_demand_and_spelled_out():
    grid = [["" for _ in range(8)] for _ in range(8)]
    grid[3][5] = "=IF(OR([@[实际值（数值）]]=\"\",[@[目标值（数值）]]=\"\"),\"\",1)"
    grid[3][0] = "线上曝光量"
    sheet = _DesktopSheet(grid)
    book = type("Book", (), {"sheets": {sheet.name: sheet}, "impl": object()})()
    live = LiveBook(book)
    assert live.read_formulas(sheet.name, (3, 5, 3, 5)) == [[
        "=IF(OR(tbl_goals[[#This Row],[实际值（数值）]]=\"\",tbl_goals[[#This Row],[目标值（数值）]]=\"\"),\"\",1)"]]
    assert live.read_formulas(sheet.name, (3, 0, 3, 1)) == [[None, None]]
    assert live.read_formulas(sheet.name, (0, 0, 1, 1)) == [[None, None], [None, None]]
