"""retroxl report: the review as HTML, Markdown and PDF, in the reference's order.

The PDF is checked as a person would read it: its text (pdftotext) in order, a CJK
font embedded (pdffonts), and page 1 rasterised (pdftoppm) with ink on it.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from workbook_cells import DEMO, campaign

from retroxl.cli import main
from retroxl.collect import collect
from retroxl.demo import demo_retrospective
from retroxl.errors import RetroxlError
from retroxl.generate import demo_workbook, new_workbook
from retroxl.report import write_report

ORDER = ["一、活动概述", "二、目标达成", "三、成果亮点", "四、问题分析", "五、改进计划"]
TODAY = date(2024, 8, 1)   # the 进行中 action due 2024-07-31 is overdue


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    retro = demo_retrospective()
    retro.tables["actions"].append({"problem": "<script>alert(1)</script> | 竖线", "impact": "低",
                                    "root_cause": "=HYPERLINK(\"x\")", "measure": "*加粗* 不应生效",
                                    "owner": "孙", "deadline": "下次活动前", "status": "未开始"})
    return new_workbook(tmp_path / "demo.xlsx", retro)


def _positions(text: str, parts: list[str]) -> list[int]:
    return [text.index(p) for p in parts]


def test_html_follows_the_reference_order_with_charts_and_findings(book: Path, tmp_path: Path) -> None:
    out = write_report(book, tmp_path / "r.html", today=TODAY)
    page = out.read_text(encoding="utf-8")
    pos = _positions(page, ORDER)
    assert pos == sorted(pos)
    assert page.count("<svg") == 3                          # target vs actual, 达成率, 环比
    for figure in ("120%", "124%", "90%", "127%", "+50%", "+30%", "+25%", "1:3.8", "100万", "120万"):
        assert figure in page, figure
    findings = page[page.index("待处理的校验问题"):page.index("五、改进计划")]
    assert "R304" in findings and "2024-07-31" in findings
    plan = page[page.index("五、改进计划"):]
    assert re.search(r"增加“到店专属体验券”.*?2024-07-31</td><td>进行中</td><td class=\"bad\">逾期", plan)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src=' not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_highlights_and_problems_split_at_100_percent(book: Path, tmp_path: Path) -> None:
    page = write_report(book, tmp_path / "r.html", today=TODAY).read_text(encoding="utf-8")
    highlights = page[page.index("三、成果亮点"):page.index("四、问题分析")]
    problems = page[page.index("四、问题分析"):page.index("问题与根因")]
    assert "新品销量" in highlights and "短视频渠道爆款内容带动" in highlights
    assert "新增会员数" in problems and "新增会员数" not in highlights


def test_markdown_with_chart_files(book: Path, tmp_path: Path) -> None:
    out = write_report(book, tmp_path / "r.md", today=TODAY)
    text = out.read_text(encoding="utf-8")
    pos = _positions(text, [f"## {h}" for h in ORDER])
    assert pos == sorted(pos)
    charts = re.findall(r"!\[[^\]]*\]\((r_charts/[^)]+\.svg)\)", text)
    assert len(charts) == 3 and all((tmp_path / c).read_text(encoding="utf-8").startswith("<svg") for c in charts)
    assert "\\<script\\>alert(1)\\</script\\> \\| 竖线" in text and "\\*加粗\\*" in text
    table = [ln for ln in text.splitlines() if ln.startswith("| 线上曝光量")]
    assert table == ["| 线上曝光量 | 次 | 100万 | 120万 | 120% |"]


def test_comparison_with_earlier_campaigns_from_the_archive(book: Path, tmp_path: Path) -> None:
    new_workbook(tmp_path / "2023.xlsx", campaign("2023夏季新品推广", date(2023, 6, 1), date(2023, 6, 15),
                                                  [("曝光量", "次", 700_000, "80万次")]))
    new_workbook(tmp_path / "2025.xlsx", campaign("2025夏季新品推广", date(2025, 6, 1), date(2025, 6, 15),
                                                  [("曝光量", "次", 700_000, 900_000)]))
    db = tmp_path / "a.db"
    collect([tmp_path], db)
    page = write_report(book, tmp_path / "r.html", db=db, today=TODAY).read_text(encoding="utf-8")
    past = page[page.index("与往期活动对比"):page.index("三、成果亮点")]
    assert "2023夏季新品推广" in past and "80万" in past
    assert "2025夏季新品推广" not in past                       # later campaigns are not 往期
    assert past.index(DEMO) < past.index("2023夏季新品推广")


def test_english_report(book: Path, tmp_path: Path) -> None:
    page = write_report(book, tmp_path / "r.html", lang="en", today=TODAY).read_text(encoding="utf-8")
    heads = ["1. Overview", "2. Goals", "3. Highlights", "4. Problems", "5. Improvement plan"]
    assert _positions(page, heads) == sorted(_positions(page, heads))
    assert "<td>In progress</td>" in page and "<td>进行中</td>" not in page   # choices in the report language
    assert "Overdue" in page and "120%" in page


def test_english_workbook_gives_an_english_report(tmp_path: Path) -> None:
    book = demo_workbook(tmp_path / "en.xlsx", lang="en")
    page = write_report(book, tmp_path / "r.html", today=TODAY).read_text(encoding="utf-8")
    assert "1. Overview" in page and DEMO in page


def test_pdf_renders_chinese_in_order(book: Path, tmp_path: Path, chromium: str) -> None:
    out = write_report(book, tmp_path / "r.pdf", today=TODAY)
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    pos = _positions(text, ORDER)
    assert pos == sorted(pos)
    assert DEMO in text and "120%" in text and "逾期" in text
    # Chromium embeds fonts as unnamed Type 3, so ask fontconfig what it set Chinese in: a CJK face, not boxes
    family = subprocess.run(["fc-match", "-f", "%{family}", "Noto Sans CJK SC:lang=zh-cn"], capture_output=True,
                            text=True, check=True).stdout
    assert "CJK" in family
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")],
                   check=True)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 10_000                         # a page with text and a chart, not blank


def test_report_cli_and_bad_input(book: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["report", str(book), "-o", str(tmp_path / "r.html")])
    assert ok.exit_code == 0 and "wrote" in ok.output
    again = CliRunner().invoke(main, ["report", str(book), "-o", str(tmp_path / "r.html")])
    assert again.exit_code == 2 and "already exists" in again.output
    wrong = CliRunner().invoke(main, ["report", str(book), "-o", str(tmp_path / "r.docx")])
    assert wrong.exit_code == 2 and ".html, .pdf, .md" in wrong.output
    (tmp_path / "bad.xlsx").write_text("活动名称,负责人\n", encoding="utf-8")
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "bad.xlsx"), "-o", str(tmp_path / "b.html")])
    assert bad.exit_code == 2 and "text or CSV" in bad.output and not (tmp_path / "b.html").exists()
    with pytest.raises(RetroxlError, match="unknown language"):
        write_report(book, tmp_path / "x.html", lang="fr")
