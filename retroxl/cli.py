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


@main.command("new", context_settings=CONTEXT)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--campaign", help="活动名称 / campaign name.")
@click.option("--start", help="开始日期，如 2024-06-01 / start date.")
@click.option("--end", help="结束日期，如 2024-06-15；用于计算六步截止日期 / end date, drives the six-step due dates.")
@click.option("--owner", help="负责人 / owner.")
@click.option("--template", "template", type=click.Path(dir_okay=False, path_type=Path),
              help="自定义模板 TOML / your own template file (default: the standard one).")
@LANG
@FORCE
@one_line_errors
def new_cmd(out: Path, campaign: str | None, start: str | None, end: str | None, owner: str | None,
            template: Path | None, lang: str, force: bool) -> None:
    """新建标准复盘工作簿 / write a new standard retrospective workbook.

    \b
    例 / example:
      retroxl new 复盘.xlsx --campaign 2024夏季新品推广 --start 2024-06-01 --end 2024-06-15 --owner 张经理
    """
    from .generate import new_workbook
    from .model import Retrospective

    info = {k: v for k, v in {"campaign": campaign, "start": start, "end": end, "owner": owner}.items() if v}
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


if __name__ == "__main__":
    main()
