"""Write a new workbook with XlsxWriter: the fast path for ``retroxl new`` and ``batch``.

Everything it writes comes from the layout (positions, formula text) and the
computed values (cached results), so this module decides no semantics.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from ..compute import Values
from ..layout import Layout, TableLayout, a1, quote_sheet
from ..model import Link, Retrospective
from ..schedule import Schedule
from ..template import Column, Sheet

FONT = {"zh": "Microsoft YaHei", "en": "Calibri"}
HEADER_BG = "#1F4E78"
COMPUTED_BG = "#F2F2F2"
TABLE_STYLE = "Table Style Light 9"


_PREPARED: dict[tuple[str, bool, bool], str] = {}


class _Worksheet(Worksheet):
    """A worksheet that prepares each distinct formula text once per process.

    Table formulas repeat row after row and workbook after workbook, and XlsxWriter
    runs some thirty regular expressions over every formula it writes.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        key = (formula, expand_future_functions, self.use_future_functions)
        if key not in _PREPARED:
            if len(_PREPARED) > 50_000:  # parsed-value fallbacks make texts unique: bound the memory
                _PREPARED.clear()
            _PREPARED[key] = super()._prepare_formula(formula, expand_future_functions)
        return _PREPARED[key]


class _Formats:
    """The workbook's cell formats, made once and shared by every sheet."""

    def __init__(self, wb: Workbook, layout: Layout) -> None:
        self.wb, self.layout = wb, layout
        self.font = {"font_name": FONT[layout.lang], "font_size": 10}
        self._cache: dict[tuple, object] = {}
        self.title = wb.add_format({**self.font, "bold": True, "font_size": 16, "font_color": HEADER_BG})
        self.subtitle = wb.add_format({**self.font, "bold": True, "font_size": 12, "font_color": HEADER_BG})
        self.hint = wb.add_format({**self.font, "italic": True, "font_color": "#7F7F7F"})
        self.header = wb.add_format({**self.font, "bold": True, "font_color": "white", "bg_color": HEADER_BG,
                                     "border": 1, "text_wrap": True, "valign": "vcenter"})
        self.label = wb.add_format({**self.font, "bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.wrap = self.get("text", wrap=True)

    def get(self, ctype: str, computed: bool = False, wrap: bool = False, num_format: str | None = None,
            border: bool = True, big: bool = False) -> object:
        key = (ctype, computed, wrap, num_format, border, big)
        if key not in self._cache:
            props = {**self.font, "valign": "top",
                     "num_format": num_format or self.layout.template.formats[ctype]}
            if big:  # the dashboard's key figures
                props.update(font_size=18, bold=True, align="center", valign="vcenter", font_color=HEADER_BG)
            if border:
                props.update(border=1, border_color="#BFBFBF")
            if computed:
                props["bg_color"] = COMPUTED_BG
            if wrap:
                props["text_wrap"] = True
            self._cache[key] = self.wb.add_format(props)
        return self._cache[key]

    def column(self, c: Column) -> object:
        return self.get(c.type, c.computed, c.wrap, c.format)

    def style(self, name: str) -> object:
        key = ("style", name)
        if key not in self._cache:
            s = self.layout.template.styles[name]
            props = {}
            if "bg" in s:
                props.update(bg_color=s["bg"], pattern=1)
            if "font" in s:
                props["font_color"] = s["font"]
            if s.get("bold"):
                props["bold"] = True
            if "num_format" in s:
                props["num_format"] = s["num_format"]
            self._cache[key] = self.wb.add_format(props)
        return self._cache[key]


def write_value(ws: Worksheet, row: int, col: int, value: object, fmt: object = None) -> None:
    """Write one entry as data: text always as text (never a formula), numbers, dates."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, (date, datetime)):
        ws.write_datetime(row, col, value, fmt)
    else:
        text = str(value)
        if text.startswith("<r>") and text.endswith("</r>"):
            # XlsxWriter copies such text into the file unescaped, as ready-made rich text:
            # plain runs (it wants three or more) make it escape every character.
            ws.write_rich_string(row, col, text[:1], text[1:2], text[2:], fmt)
        else:
            ws.write_string(row, col, text, fmt)


def write_formula(ws: Worksheet, row: int, col: int, formula: str, value: object, fmt: object = None) -> None:
    """A formula with its computed result cached, so readers that never calculate see it."""
    if isinstance(value, (date, datetime)):
        value = (value - date(1899, 12, 30)).days if isinstance(value, date) else value
    ws.write_formula(row, col, formula, fmt, "" if value is None else value)


def _print_setup(ws: Worksheet, repeat_row: int | None = None, landscape: bool = True) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer("&L&A&R&P / &N")
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)


class WorkbookWriter:
    """Writes one retrospective workbook from a layout, its values and its schedule."""

    def __init__(self, layout: Layout, retro: Retrospective, values: Values, schedule: Schedule) -> None:
        self.layout, self.retro, self.values, self.schedule = layout, retro, values, schedule
        self.tpl, self.lang = layout.template, layout.lang

    def write(self, path: Path) -> None:
        wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                             "strings_to_urls": False, "in_memory": True})
        # Fixed document properties keep output deterministic (same input → same bytes).
        wb.set_properties({"title": self.tpl.title[self.lang], "created": datetime(2024, 1, 1)})
        self.write_sheets(wb)
        wb.close()

    def write_sheets(self, wb: Workbook) -> None:
        """Add the template's sheets to ``wb`` (or to anything taking the same calls, such as a recorder)."""
        self.fmt = _Formats(wb, self.layout)
        self.wb = wb
        for sheet in self.tpl.sheets:
            ws = wb.add_worksheet(self.layout.sheets[sheet.key], worksheet_class=_Worksheet)
            ws.hide_gridlines(2)
            getattr(self, f"_sheet_{sheet.kind}")(ws, sheet)

    def _title(self, ws: Worksheet, sheet: Sheet, width_cols: int) -> None:
        ws.set_row(0, 26)
        ws.merge_range(0, 0, 0, max(width_cols - 1, 1), sheet.title[self.lang], self.fmt.title)

    # ---------------------------------------------------------------- 说明
    def _sheet_info(self, ws: Worksheet, sheet: Sheet) -> None:
        lay, fmt, lang = self.layout, self.fmt, self.lang
        self._title(ws, sheet, 5)
        ws.write_string(1, 0, self.tpl.text("fields", lang), fmt.subtitle)
        for f in sheet.fields:
            fl = lay.fields[f.key]
            ws.write_string(fl.row, 0, f.label[lang], fmt.label)
            write_value(ws, fl.row, fl.col, self.values.field(f.key), fmt.get(f.type))
            self.wb.define_name(f.name, f"={quote_sheet(fl.sheet)}!{a1(fl.row, fl.col, True)}")
            if f.type == "date":
                ws.data_validation(fl.row, fl.col, fl.row, fl.col, self._validation_date())
        r = lay.steps_row
        ws.write_string(r, 0, self.tpl.text("steps", lang), fmt.subtitle)
        for c, h in enumerate(self.tpl.text("step_headers", lang).split("|")):
            ws.write_string(r + 1, c, h, fmt.header)
        for i, step in enumerate(sheet.steps):
            row = r + 2 + i
            ws.write_number(row, 0, i + 1, fmt.get("number"))
            ws.write_string(row, 1, step.name[lang], fmt.get("text"))
            ws.write_string(row, 2, step.window[lang], fmt.get("text"))
            write_value(ws, row, 3, self.schedule.due[i] if self.schedule.due else None, fmt.get("date", computed=True))
            ws.write_string(row, 4, step.content[lang], fmt.wrap)
        note_row = r + 2 + len(sheet.steps)
        note = self.schedule.note or ("" if self.schedule.due else self.tpl.text("no_end", lang))
        if note:
            ws.write_string(note_row, 0, note, fmt.hint)
        r = lay.rules_row
        ws.write_string(r, 0, self.tpl.text("rules", lang), fmt.subtitle)
        for i, rule in enumerate(sheet.rules):
            ws.write_string(r + 1 + i, 0, rule.name[lang], fmt.label)
            ws.merge_range(r + 1 + i, 1, r + 1 + i, 4, rule.text[lang], fmt.get("text"))
        for c, w in enumerate((14, 26, 24, 13, 90)):
            ws.set_column(c, c, w)
        ws.freeze_panes(1, 0)
        _print_setup(ws)

    # ---------------------------------------------------------------- tables
    def _sheet_table(self, ws: Worksheet, sheet: Sheet) -> None:
        tl = self.layout.tables[sheet.table.key]
        visible = sum(1 for c in tl.spec.columns if not c.hidden)
        self._title(ws, sheet, visible)
        ws.write_string(1, 0, self.tpl.text("hint", self.lang), self.fmt.hint)
        self._table(ws, tl)
        ws.freeze_panes(tl.first_row, 0)
        _print_setup(ws, tl.header_row)

    def _table(self, ws: Worksheet, tl: TableLayout) -> None:
        lay, fmt = self.layout, self.fmt
        cols = tl.spec.columns
        options = {"name": tl.spec.table, "style": TABLE_STYLE, "autofilter": True,
                   "columns": [{"header": c.header[self.lang], "header_format": fmt.header, "format": fmt.column(c),
                                **({"formula": lay.column_formula(tl.spec.key, c)} if c.formula else {})}
                               for c in cols]}
        ws.add_table(tl.header_row, tl.first_col, tl.last_row, tl.last_col, options)
        ws.set_row(tl.header_row, 30)
        for c in cols:
            col = tl.col(c.key)
            ws.set_column(col, col, c.width, None, {"hidden": c.hidden})
            for i in range(tl.rows):
                self._cell(ws, tl, c, i)
            self._validate(ws, tl, c)
            self._conditions(ws, tl, c)

    def _cell(self, ws: Worksheet, tl: TableLayout, c: Column, i: int) -> None:
        row, col = tl.first_row + i, tl.col(c.key)
        value = self.values.table(tl.spec.key, i, c.key)
        if c.formula:
            overrides = None
            if c.formula.rule == "number":
                fb = self.values.fallbacks.get(("t", tl.spec.key, i, c.formula.args["x"]))
                if fb is not None:
                    overrides = {"fallback": repr(float(fb))}
            write_formula(ws, row, col, self.layout.column_formula(tl.spec.key, c, i, overrides), value,
                          self.fmt.column(c))
            return
        rows = self.retro.rows(tl.spec.key)
        entry = rows[i].get(c.key) if i < len(rows) else None
        if isinstance(entry, Link):
            write_formula(ws, row, col, f"={entry.name}", value, self.fmt.column(c))
        else:
            write_value(ws, row, col, value, self.fmt.column(c))

    # ---------------------------------------------------------------- validation, conditional formats
    def _validation_date(self) -> dict:
        zh = self.lang == "zh"
        return {"validate": "date", "criteria": "between", "minimum": date(2000, 1, 1), "maximum": date(2100, 12, 31),
                "error_type": "warning", "error_title": "日期" if zh else "Date",
                "error_message": "请输入日期，如 2024-06-15" if zh else "Enter a date such as 2024-06-15",
                "input_title": "日期" if zh else "Date",
                "input_message": "格式 2024-06-15" if zh else "Format 2024-06-15"}

    def _validate(self, ws: Worksheet, tl: TableLayout, c: Column) -> None:
        if c.computed:
            return
        zh = self.lang == "zh"
        rng = (tl.first_row, tl.col(c.key), tl.last_row, tl.col(c.key))
        v: dict | None = None
        if c.type == "choice":
            choices = self.tpl.choices(c.list, self.lang)  # type: ignore[arg-type]
            v = {"validate": "list", "source": choices, "error_type": "stop" if c.strict else "information",
                 "error_title": c.header[self.lang],
                 "error_message": ("请从下拉列表中选择：" if zh else "Choose from the list: ") + "、".join(choices)}
        elif c.type in ("number", "money", "percent", "ratio"):
            v = {"validate": "decimal", "criteria": "between", "minimum": -1e15, "maximum": 1e15,
                 "error_type": "warning", "error_title": c.header[self.lang],
                 "error_message": ("请输入数值。“120万次”“1:3.8”等文字也可保留，运行 retroxl recalc 后参与计算。"
                                   if zh else "Enter a number. Text such as 1.2m is kept and counted after retroxl recalc."),
                 "input_title": c.header[self.lang],
                 "input_message": ("数值；百分比填 5%，ROI 填 3.8 并选单位 1:x" if zh
                                   else "A number; percent as 5%, ROI as 3.8 with unit 1:x")}
        elif c.type == "date":
            v = self._validation_date()
        if v:
            ws.data_validation(*rng, v)

    def _conditions(self, ws: Worksheet, tl: TableLayout, c: Column) -> None:
        for cond in c.conditions:
            first_col = tl.first_col if cond.row else tl.col(c.key)
            last_col = tl.last_col if cond.row else tl.col(c.key)
            # A relative reference to the first data row: Excel shifts it for every cell of the range.
            formula = self.layout.render(cond.rule, lambda key: "$" + a1(tl.first_row, tl.col(key)))
            ws.conditional_format(tl.first_row, first_col, tl.last_row, last_col,
                                  {"type": "formula", "criteria": formula, "format": self.fmt.style(cond.style)})

    # ---------------------------------------------------------------- 成本收益
    def _sheet_costs(self, ws: Worksheet, sheet: Sheet) -> None:
        lay, fmt = self.layout, self.fmt
        width = sum(len(t.columns) for t in sheet.tables) + len(sheet.tables) - 1
        self._title(ws, sheet, width)
        ws.write_string(1, 0, self.tpl.text("totals", self.lang), fmt.subtitle)
        self._fields(ws, sheet, label_left=True)
        for t in sheet.tables:
            tl = lay.tables[t.key]
            ws.write_string(tl.header_row - 1, tl.first_col, t.title[self.lang], fmt.subtitle)
            self._table(ws, tl)
        first = lay.tables[sheet.tables[0].key]
        ws.set_column(0, 0, max(sheet.tables[0].columns[0].width, 18))
        ws.freeze_panes(first.first_row, 0)
        _print_setup(ws, first.header_row)

    def _fields(self, ws: Worksheet, sheet: Sheet, label_left: bool) -> None:
        lay = self.layout
        for f in sheet.fields:
            fl = lay.fields[f.key]
            label_at = (fl.row, fl.col - 1) if label_left else (fl.row - 1, fl.col)
            ws.write_string(*label_at, f.label[self.lang], self.fmt.label)
            cell_fmt = self.fmt.get(f.type, computed=True, big=not label_left)
            if f.formula:
                write_formula(ws, fl.row, fl.col, lay.field_formula(f.key), self.values.field(f.key), cell_fmt)
            if f.name:
                self.wb.define_name(f.name, f"={quote_sheet(fl.sheet)}!{a1(fl.row, fl.col, True)}")

    # ---------------------------------------------------------------- 仪表盘
    def _sheet_dashboard(self, ws: Worksheet, sheet: Sheet) -> None:
        lay, fmt, lang = self.layout, self.fmt, self.lang
        tl = lay.tables[sheet.table.key]
        self._title(ws, sheet, max(len(sheet.fields), 8))
        ws.write_string(1, 0, self.tpl.text("kpis", lang), fmt.subtitle)
        self._fields(ws, sheet, label_left=False)
        ws.set_row(3, 36)
        ws.write_string(tl.header_row - 1, 0, self.tpl.text("chart_data", lang), fmt.subtitle)
        for j, c in enumerate(sheet.table.columns):
            ws.write_string(tl.header_row, tl.col(c.key), c.header[lang], fmt.header)
            ws.set_column(tl.col(c.key), tl.col(c.key), max(c.width, 14))
            for i in range(tl.rows):
                row, col = tl.first_row + i, tl.col(c.key)
                if c.formula:
                    write_formula(ws, row, col, lay.column_formula(tl.spec.key, c, i),
                                  self.values.table(tl.spec.key, i, c.key), fmt.column(c))
                else:
                    write_value(ws, row, col, c.value, fmt.column(c))
        for k, chart in enumerate(sheet.charts):
            ws.insert_chart(1 + 16 * k, tl.last_col + 2, self._chart(chart.kind, chart.title[lang], tl),
                            {"x_scale": 1.3, "y_scale": 1.1})
        _print_setup(ws)

    def _chart(self, kind: str, title: str, tl: TableLayout):
        def series(key: str, **extra) -> dict:
            col = tl.col(key)
            return {"name": [tl.sheet, tl.header_row, col],
                    "categories": [tl.sheet, tl.first_row, tl.col("label"), tl.last_row, tl.col("label")],
                    "values": [tl.sheet, tl.first_row, col, tl.last_row, col], **extra}

        chart = self.wb.add_chart({"type": "column"})
        if kind == "target_actual":
            chart.add_series(series("target_index", fill={"color": "#A6A6A6"}))
            chart.add_series(series("actual_index", fill={"color": HEADER_BG},
                                    data_labels={"value": True, "num_format": "0%"}))
        else:
            chart.add_series(series("attainment", fill={"color": "#2E75B6"},
                                    data_labels={"value": True, "num_format": "0%"}))
            line = self.wb.add_chart({"type": "line"})
            line.add_series(series("baseline", line={"color": "#C00000", "width": 2, "dash_type": "dash"}))
            chart.combine(line)
        font = {"name": FONT[self.lang]}
        chart.set_title({"name": title, "name_font": {**font, "size": 12}})
        chart.set_y_axis({"num_format": "0%", "min": 0, "major_gridlines": {"visible": True,
                                                                            "line": {"color": "#D9D9D9"}},
                          "num_font": font})
        chart.set_x_axis({"num_font": font})
        chart.set_legend({"position": "bottom", "font": font})
        return chart
