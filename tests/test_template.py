"""The template is data: a team's edited copy is used; a broken one is named precisely."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from workbook_cells import grid_value

from retroxl import demo_retrospective, new_workbook
from retroxl.libreoffice import recalculated_values
from retroxl.template import TemplateError, load_template, template_dir

STANDARD = (template_dir() / "standard.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "team.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_standard_template_loads():
    tpl = load_template()
    assert [s.key for s in tpl.sheets] == ["info", "goals", "indicators", "actions", "lessons", "costs", "dashboard"]
    assert tpl.sheet("indicators").table.column("attainment").formula.rule == "attainment"
    assert tpl.choices("impact", "zh") == ["高", "中", "低"]


@pytest.mark.parametrize("edit, key", [
    (lambda s: s.replace('rule = "attainment", actual', 'rule = "attainmnt", actual', 1), "formula.rule"),
    (lambda s: s.replace('actual = "actual_n", target = "target_n"', 'actual = "actual_x", target = "target_n"', 1),
     "formula.actual"),
    (lambda s: s.replace('type = "percent"\nwidth = 10', 'type = "percentage"\nwidth = 10', 1), ".type"),
    (lambda s: s.replace('list = "impact"', 'list = "impacts"', 1), "impact.list"),
    (lambda s: s.replace('[formats]\ntext = "@"', '[formats]\ntext = 5', 1), "formats.text"),
    (lambda s: s.replace('header = { zh = "具体指标", en = "Indicator" }', 'header = { zh = "具体指标" }', 1),
     "indicator.header"),
    (lambda s: s + "\n[[sheets\n", "not valid TOML"),
])
def test_broken_template_names_file_and_key(tmp_path, edit, key):
    path = _write(tmp_path, edit(STANDARD))
    with pytest.raises(TemplateError) as e:
        load_template(path)
    assert str(path) in str(e.value) and key in str(e.value)


def test_cli_reports_broken_template_in_one_line(tmp_path):
    from click.testing import CliRunner

    from retroxl.cli import main

    path = _write(tmp_path, STANDARD.replace('list = "impact"', 'list = "impacts"', 1))
    result = CliRunner().invoke(main, ["new", str(tmp_path / "x.xlsx"), "--template", str(path)])
    assert result.exit_code == 2
    assert "impact.list" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_team_template_renames_a_header_and_adds_a_column(tmp_path, soffice):
    text = STANDARD.replace('header = { zh = "实际值", en = "Actual" }\ntype = "number"\n',
                            'header = { zh = "实际完成", en = "Achieved" }\ntype = "number"\n')
    text = text.replace('''[[sheets.columns]]
key = "source"''', '''[[sheets.columns]]
key = "channel"
header = { zh = "渠道", en = "Channel" }
type = "text"
width = 12

[[sheets.columns]]
key = "source"''')
    out = new_workbook(tmp_path / "team.xlsx", demo_retrospective(), template=_write(tmp_path, text))
    tpl = load_template(tmp_path / "team.toml")
    ws = openpyxl.load_workbook(out)["表2 关键指标"]
    headers = [c.value for c in ws[3]]
    assert "实际完成" in headers and "渠道" in headers and "实际值" not in headers
    assert tpl.sheet("indicators").table.index("channel") == 9
    grid = recalculated_values(out)
    col = headers.index("达成率")
    assert [round(grid_value(grid, "表2 关键指标", 3 + i, col) * 100) for i in range(3)] == [120, 124, 127]
