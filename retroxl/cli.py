"""The ``retroxl`` command: thin commands, each one call into the documented API."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .errors import RetroxlError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input: one clear line on stderr and exit code 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RetroxlError as e:
            click.echo(f"retroxl: error: {e}", err=True)
            sys.exit(2)
        except OSError as e:
            click.echo(f"retroxl: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="retroxl")
def main() -> None:
    """retroxl —— 活动复盘工作簿：原生公式自动计算达成率、环比和 ROI。

    Campaign retrospective workbooks whose native formulas compute attainment,
    change vs the previous campaign and ROI in Excel, WPS and LibreOffice.
    """


LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                    help="工作簿语言 / workbook language.")
FORCE = click.option("--force", is_flag=True, help="覆盖已有文件 / replace an existing file.")
TEMPLATE = click.option("--template", "template", type=click.Path(dir_okay=False, path_type=Path),
                        help="自定义模板 TOML / your own template file (default: the standard one).")


@main.command("new", context_settings=CONTEXT)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--campaign", help="活动名称 / campaign name.")
@click.option("--start", help="开始日期，如 2024-06-01 / start date.")
@click.option("--end", help="结束日期，如 2024-06-15；用于计算六步截止日期 / end date, drives the six-step due dates.")
@click.option("--owner", help="负责人 / owner.")
@TEMPLATE
@click.option("--into", "into", type=click.Path(dir_okay=False, path_type=Path),
              help="把复盘工作表加入已有的 .xlsx/.xlsm（原有内容、图表、宏不变；写回原文件，或写到 OUT）"
                   " / add the sheets to an existing workbook, keeping everything in it (in place, or into OUT).")
@LANG
@FORCE
@one_line_errors
def new_cmd(out: Path | None, campaign: str | None, start: str | None, end: str | None, owner: str | None,
            template: Path | None, into: Path | None, lang: str, force: bool) -> None:
    """新建标准复盘工作簿 / write a new standard retrospective workbook.

    \b
    例 / example:
      retroxl new 复盘.xlsx --campaign 2024夏季新品推广 --start 2024-06-01 --end 2024-06-15 --owner 张经理
      retroxl new --into 销售周报.xlsm --campaign 2024夏季新品推广
    """
    from .generate import new_workbook
    from .model import Retrospective

    info = {k: v for k, v in {"campaign": campaign, "start": start, "end": end, "owner": owner}.items() if v}
    if into is not None:
        from .merge import add_retrospective

        path = add_retrospective(into, Retrospective(info=info), out=out, template=template, lang=lang, force=force)
        click.echo(f"added the retrospective sheets to {path}")
        return
    if out is None:
        raise click.UsageError("give OUT (the workbook to write) or --into EXISTING.xlsx")
    path = new_workbook(out, Retrospective(info=info), template=template, lang=lang, force=force)
    click.echo(f"wrote {path}")


@main.command("demo", context_settings=CONTEXT)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), default="retroxl-demo.xlsx")
@LANG
@FORCE
@one_line_errors
def demo_cmd(out: Path, lang: str, force: bool) -> None:
    """写出参考模板的公开示例 / write the reference's published example.

    表1 120% / 124% / 90%, 表2 120% / 124% / 127%, computed by the workbook's formulas.
    """
    from .generate import demo_workbook

    click.echo(f"wrote {demo_workbook(out, lang=lang, force=force)}")


@main.command("import", context_settings=CONTEXT)
@click.argument("src", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="新的标准工作簿 / the standard workbook to write.")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出报告 / print the report as JSON.")
@LANG
@FORCE
@one_line_errors
def import_cmd(src: Path, out: Path, as_json: bool, lang: str, force: bool) -> None:
    """导入旧的手填复盘表 / import hand-filled tables in the reference's format.

    Finds 表1-表4 by their headers in any sheet, unpacks packed goals, writes the
    standard workbook and reports what could not be placed. SRC is only read.

    \b
    例 / example:
      retroxl import 2023复盘.xlsx -o 2023复盘-标准.xlsx
    """
    import json

    from .importer import import_workbook

    report = import_workbook(src, out, lang=lang, force=force)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"wrote {out}")
        click.echo("\n".join(report.summary()))


@main.group("addin", context_settings=CONTEXT)
def addin_group() -> None:
    """Excel 加载项：“复盘”选项卡的“重新计算”按钮和 RETRO_* 函数 / the Excel add-in.

    \b
    桌面版 Excel / desktop Excel:  retroxl addin install
    xlwings Lite（网页版也可 / also Excel on the web）:  retroxl addin lite 文件夹
    """


@addin_group.command("build", context_settings=CONTEXT)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@FORCE
@one_line_errors
def addin_build_cmd(folder: Path, force: bool) -> None:
    """写出 retroxl_addin.xlam 和它调用的 retroxl_addin.py / write the add-in and its Python module."""
    from .addin import build_addin

    files = build_addin(folder, force=force)
    click.echo(f"wrote {files.addin}\nwrote {files.module}")


@addin_group.command("install", context_settings=CONTEXT)
@one_line_errors
def addin_install_cmd() -> None:
    """安装到 Excel 启动文件夹 / install the add-in where Excel opens it at start-up."""
    from .addin import install_addin

    report = install_addin()
    for line in report.done:
        click.echo(line)
    for line in report.todo:
        click.echo(f"next: {line}")


@addin_group.command("lite", context_settings=CONTEXT)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@FORCE
@one_line_errors
def addin_lite_cmd(folder: Path, force: bool) -> None:
    """写出 xlwings Lite 的 main.py 和 requirements.txt / write main.py and requirements.txt for xlwings Lite.

    Paste them into the xlwings Lite editor's main.py and requirements.txt tabs.
    """
    from .addin import build_lite

    files = build_lite(folder, force=force)
    click.echo(f"wrote {files.main}\nwrote {files.requirements}")


HISTORY = click.option("--history", type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVE",
                       help="从复盘库（retroxl collect 生成）填写空的往期值 / fill empty 往期值 from a review "
                            "archive made by retroxl collect.")


@main.command("recalc", context_settings=CONTEXT)
@click.argument("book", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="写到另一个文件（默认写回原文件）/ write here instead of in place.")
@HISTORY
@TEMPLATE
@one_line_errors
def recalc_cmd(book: Path, out: Path | None, history: Path | None, template: Path | None) -> None:
    """重算并校验已填写的工作簿，原地写回，不丢失任何内容 / recompute and check a filled workbook in place.

    Writes the computed values beside every formula (readers that never calculate
    show them), understands text such as 120万次 or 1:3.8, marks each problem with a
    colour and a note and lists them all on the 校验 sheet. Cells you typed are never
    changed; charts, pictures, macros and everything else stay as they were.

    With --history, every empty 往期值 of 表2 is filled from the review archive
    (the most recent earlier campaign that tracked the same indicator and unit),
    and the cell's note names that campaign.

    \b
    例 / example:
      retroxl recalc 复盘.xlsx
      retroxl recalc 复盘.xlsx --history 复盘库.db
    """
    from .recalc import recalc

    result = recalc(book, out, template, history=history)
    report = result.report
    filled = f"{len(result.filled)} 往期值 filled from {history}; " if history else ""
    click.echo(f"wrote {result.path}: {filled}{result.changed} of {result.cells} computed cells updated; "
               f"{report.errors} error(s), {report.count('warning')} warning(s), {report.count('info')} info "
               f"(see the 校验 sheet)")


@main.command("validate", context_settings=CONTEXT)
@click.argument("book", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="输出格式 / output format.")
@TEMPLATE
@one_line_errors
def validate_cmd(book: Path, fmt: str, template: Path | None) -> None:
    """校验已填写的工作簿（只读）/ check a filled workbook (read only).

    Exit code 0: no errors; 1: errors found; 2: the file cannot be used.

    \b
    例 / example:
      retroxl validate 复盘.xlsx --format json
    """
    from .validate import validate

    report = validate(book, template)
    click.echo(report.to_json() if fmt == "json" else report.to_text())
    sys.exit(report.exit_code)


@main.command("collect", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True)
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="复盘库文件（SQLite，不存在则新建）/ the archive file (created if missing).")
@click.option("--jobs", type=click.IntRange(min=1), help="并行读取的进程数（默认 CPU 核数）/ reading processes.")
@click.option("--validate", is_flag=True, help="同时保存校验结果（较慢）/ store validation findings too (slower).")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 / print the result as JSON.")
@one_line_errors
def collect_cmd(paths: tuple[str, ...], db: Path, jobs: int | None, validate: bool, as_json: bool) -> None:
    """把复盘工作簿收入复盘库 / collect retrospective workbooks into the archive.

    PATHS are files, folders (searched recursively) or glob patterns; standard and
    seed-format workbooks. A changed file replaces its rows, an unchanged one is
    skipped; unreadable files and duplicates are listed and the rest still go in.
    Exit code 1 if a file was unreadable or a duplicate (retroxl's own summaries,
    such as 汇总.xlsx, are skipped without counting as errors).

    \b
    例 / example:
      retroxl collect 2024夏季新品推广.xlsx 复盘/ --db 复盘库.db
    """
    import json

    from .collect import collect

    result = collect(paths, db, jobs=jobs, validate=validate)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in result.problems():
            click.echo(line, err=True)
        click.echo(result.summary())
    sys.exit(1 if result.failed or result.duplicates else 0)


@main.command("portfolio", context_settings=CONTEXT)
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="复盘库文件 / the archive file.")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="汇总工作簿 .xlsx / the portfolio workbook to write.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="只汇总此日期及以后结束的活动，如 2024-01-01 / campaigns that ended on or after this date.")
@LANG
@FORCE
@one_line_errors
def portfolio_cmd(db: Path, out: Path, since, lang: str, force: bool) -> None:
    """生成跨活动汇总工作簿 / write the cross-campaign workbook for the department head.

    Every campaign with its goals' 达成率, each indicator's trend (line charts), every
    open improvement with owner, deadline and a live 逾期 flag, recurring root causes
    and the 经验库 (an Excel Table to filter).

    \b
    例 / example:
      retroxl portfolio --db 复盘库.db -o 汇总.xlsx
    """
    from .portfolio import build_portfolio

    click.echo(build_portfolio(db, out, lang=lang, force=force, since=since.date() if since else None).summary())


@main.command("report", context_settings=CONTEXT)
@click.argument("book", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="报告文件：.html、.pdf 或 .md / the report: .html, .pdf or .md.")
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path),
              help="复盘库：加入与往期活动的对比 / the archive: adds the comparison with earlier campaigns.")
@click.option("--lang", type=click.Choice(["zh", "en"]), help="报告语言（默认同工作簿）/ report language.")
@FORCE
@one_line_errors
def report_cmd(book: Path, out: Path, db: Path | None, lang: str | None, force: bool) -> None:
    """生成复盘报告 / write the review as a document (HTML, PDF or Markdown).

    In the reference's order: 活动概述 → 目标达成 → 成果亮点 → 问题分析 → 改进计划, with
    charts, the comparison tables and the validation findings still open.

    \b
    例 / example:
      retroxl report 2024夏季新品推广.xlsx -o 复盘报告.pdf --db 复盘库.db
    """
    from .report import write_report

    click.echo(f"wrote {write_report(book, out, lang=lang, db=db, force=force)}")


@main.command("batch", context_settings=CONTEXT)
@click.argument("campaigns", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
              help="输出文件夹：每个活动一个工作簿，外加 汇总.xlsx / the folder for the workbooks and 汇总.xlsx.")
@click.option("--overwrite", is_flag=True, help="覆盖已有工作簿（默认保留并跳过）/ replace existing workbooks.")
@click.option("--dry-run", is_flag=True, help="只列出将要做什么，不写文件 / show what would happen, write nothing.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="并行进程数 / worker processes.")
@click.option("--template", "template", type=click.Path(dir_okay=False, path_type=Path),
              help="默认模板 TOML（清单的“模板”列可逐行选择）/ default template; the list's 模板 column picks per row.")
@HISTORY
@LANG
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果 / print the result as JSON.")
@click.option("--example", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="写出示例活动清单（默认 活动清单.csv）/ write a sample campaign list (.csv or .xlsx) and stop.")
@one_line_errors
def batch_cmd(campaigns: Path | None, outdir: Path | None, overwrite: bool, dry_run: bool, jobs: int,
              template: Path | None, history: Path | None, lang: str, as_json: bool, example: str | None) -> None:
    """按活动清单批量生成预填工作簿 / one prefilled workbook per campaign of a list.

    Each workbook carries the campaign's header, goals with targets and the six-step
    due dates; 汇总.xlsx links them all. Existing workbooks are kept unless
    --overwrite, so a run that stopped can be repeated. Exit code 1 if a row failed.
    With --history, each goal the review archive knows also gets a 表2 row with its
    往期值 (the most recent earlier campaign's actual) and a note naming that campaign.

    \b
    例 / example:
      retroxl batch --example                    # 写出 活动清单.csv
      retroxl batch 活动清单.csv -o 复盘 --jobs 2
      retroxl batch 活动清单.csv -o 复盘 --history 复盘库.db
    """
    if example is not None:
        from .campaigns import write_example
        from .generate import resolve_template

        path = Path(example or ("活动清单.csv" if lang == "zh" else "campaigns.csv"))
        click.echo(f"wrote {write_example(path, resolve_template(template), lang=lang, force=overwrite)}")
        return
    if campaigns is None or outdir is None:
        raise click.UsageError("give the campaign list and -o OUTDIR (or --example to write a sample list)")
    from .batch import batch

    options = {"overwrite": overwrite, "dry_run": dry_run, "jobs": jobs, "template": template, "lang": lang,
               "history": history}
    if not as_json and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("retroxl batch"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("batch", total=None)
            result = batch(campaigns, outdir, **options,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        result = batch(campaigns, outdir, **options)
    if as_json:
        import json

        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for column in result.unused_columns:
            click.echo(f"retroxl: warning: column {column!r} is not used", err=True)
        for o in result.outcomes:
            if dry_run:
                click.echo(f"{o.status:<11} row {o.row}: {o.file or o.campaign}" + (f" ({o.reason})" if o.reason else ""))
            elif o.reason:
                click.echo(f"retroxl: row {o.row} {o.campaign!r}: {o.reason}", err=True)
        click.echo(result.summary())
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
