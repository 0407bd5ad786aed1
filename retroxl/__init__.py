"""retroxl: campaign retrospective (活动复盘) workbooks with live Excel formulas.

The public API, importable from here (heavy modules load only when used)::

    from retroxl import parse_quantity, attainment, variance, roi, new_workbook, demo_workbook

    parse_quantity("120万次").value        # 1200000.0
    attainment(6200, 5000).value           # 1.24
    roi(3_800_000, 1_000_000).value        # 3.8 (shown as 1:3.8)
    new_workbook("复盘.xlsx", Retrospective(info={"campaign": "双11", "end": "2024-11-11"}))
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "parse_quantity": "retroxl.engine.numbers",
    "parse_quantities": "retroxl.engine.numbers",
    "Quantity": "retroxl.engine.numbers",
    "parse_period": "retroxl.engine.periods",
    "parse_date": "retroxl.engine.periods",
    "attainment": "retroxl.engine.metrics",
    "variance": "retroxl.engine.metrics",
    "roi": "retroxl.engine.metrics",
    "net_roi": "retroxl.engine.metrics",
    "Metric": "retroxl.engine.metrics",
    "add_workdays": "retroxl.engine.workdays",
    "load_template": "retroxl.template",
    "Template": "retroxl.template",
    "TemplateError": "retroxl.template",
    "Retrospective": "retroxl.model",
    "Link": "retroxl.model",
    "RetroxlError": "retroxl.errors",
    "new_workbook": "retroxl.generate",
    "demo_workbook": "retroxl.generate",
    "demo_retrospective": "retroxl.demo",
    "recalc": "retroxl.recalc",
    "validate": "retroxl.validate",
    "add_retrospective": "retroxl.merge",
    "import_workbook": "retroxl.importer",
    "batch": "retroxl.batch",
    "collect": "retroxl.collect",
    "read": "retroxl.archive",
    "build_portfolio": "retroxl.portfolio",
    "write_report": "retroxl.report",
    "build_addin": "retroxl.addin",
    "build_lite": "retroxl.addin",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .addin import build_addin, build_lite
    from .archive import read
    from .batch import batch
    from .collect import collect
    from .demo import demo_retrospective
    from .engine.metrics import Metric, attainment, net_roi, roi, variance
    from .engine.numbers import Quantity, parse_quantities, parse_quantity
    from .engine.periods import parse_date, parse_period
    from .engine.workdays import add_workdays
    from .errors import RetroxlError
    from .generate import demo_workbook, new_workbook
    from .importer import import_workbook
    from .merge import add_retrospective
    from .model import Link, Retrospective
    from .portfolio import build_portfolio
    from .recalc import recalc
    from .report import write_report
    from .template import Template, TemplateError, load_template
    from .validate import validate


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'retroxl' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
