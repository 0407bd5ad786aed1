"""Load a workbook template (``workbook_templates/*.toml``) into typed objects.

The template is the single description of the standard workbook: sheets,
columns, types, lists, number formats and formula rules. Loading checks it and
names the file and the key of anything wrong, so a team editing its own copy
gets a clear message instead of a broken workbook.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

LANGS = ("zh", "en")
COLUMN_TYPES = ("text", "number", "percent", "variance", "ratio", "date", "choice", "money")
SHEET_KINDS = ("info", "table", "costs", "dashboard")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and the key."""


Text = dict[str, str]


@dataclass(frozen=True, slots=True)
class FormulaRule:
    rule: str
    args: dict[str, str]


@dataclass(frozen=True, slots=True)
class Condition:
    """A conditional format: where ``rule`` is true, the cell (or its row) gets ``style``."""

    rule: FormulaRule
    style: str
    row: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: Text
    type: str
    list: str | None = None
    strict: bool = True
    width: float = 12
    hidden: bool = False
    wrap: bool = False
    format: str | None = None
    formula: FormulaRule | None = None
    value: object = None  # a constant written in every row (chart baselines)
    conditions: tuple[Condition, ...] = ()

    @property
    def computed(self) -> bool:
        return self.formula is not None or self.value is not None


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    table: str          # the Excel Table name
    title: Text
    columns: tuple[Column, ...]
    rows: int = 5       # empty rows in a new workbook

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)

    def index(self, key: str) -> int:
        for i, c in enumerate(self.columns):
            if c.key == key:
                return i
        raise ValueError(key)


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    name: str           # the defined name of its cell
    label: Text
    type: str
    formula: FormulaRule | None = None


@dataclass(frozen=True, slots=True)
class Step:
    name: Text
    days: int
    window: Text
    content: Text


@dataclass(frozen=True, slots=True)
class Rule:
    name: Text
    text: Text


@dataclass(frozen=True, slots=True)
class Chart:
    kind: str
    title: Text


@dataclass(frozen=True, slots=True)
class Sheet:
    key: str
    kind: str
    name: Text
    title: Text
    tables: tuple[Table, ...] = ()
    fields: tuple[Field, ...] = ()      # info: header fields; costs: totals; dashboard: KPIs
    steps: tuple[Step, ...] = ()
    rules: tuple[Rule, ...] = ()
    charts: tuple[Chart, ...] = ()
    source: str | None = None            # dashboard: the table sheet its chart rows follow

    @property
    def table(self) -> Table:
        return self.tables[0]


@dataclass(frozen=True)
class Template:
    path: Path
    name: str
    version: int
    title: Text
    markers: dict[str, Text]
    lists: dict[str, dict[str, list[str]]]
    formulas: dict[str, str]
    formats: dict[str, str]
    styles: dict[str, dict]
    texts: dict[str, Text]
    sheets: tuple[Sheet, ...]
    _by_key: dict[str, Sheet] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({s.key: s for s in self.sheets})

    def sheet(self, key: str) -> Sheet:
        return self._by_key[key]

    def has(self, key: str) -> bool:
        return key in self._by_key

    def text(self, key: str, lang: str) -> str:
        return self.texts[key][lang]

    def marker(self, key: str, lang: str) -> str:
        return self.markers[key][lang]

    def choices(self, list_key: str, lang: str) -> list[str]:
        return self.lists[list_key][lang]

    def translate(self, list_key: str, value: object, lang: str) -> object:
        """A list item in ``lang``, for an item given in any language; other values unchanged."""
        for items in self.lists[list_key].values():
            if isinstance(value, str) and value in items:
                return self.lists[list_key][lang][items.index(value)]
        return value

    def table(self, key: str) -> tuple[Sheet, Table]:
        """The sheet and table for a table key ('indicators', or 'costs' for a costs-sheet table)."""
        for s in self.sheets:
            for t in s.tables:
                if t.key == key:
                    return s, t
        raise KeyError(key)


# ----------------------------------------------------------------- loading

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "workbook_templates"


def template_dir() -> Path:
    """The folder of bundled templates: the checkout's, or the installed package's."""
    if TEMPLATE_DIR.is_dir():
        return TEMPLATE_DIR
    from importlib.resources import files

    return Path(str(files("retroxl.workbook_templates")))


def per_template(memo: dict, template: Template, key: Hashable, make: Callable[[], T], limit: int = 64) -> T:
    """``make()`` once per template and ``key``, kept in ``memo``.

    Keyed by ``id(template)`` (templates are frozen but hold dicts, so not hashable);
    the template is kept beside the value, so its id cannot be reused meanwhile.
    """
    kept = memo.get((id(template), key))
    if kept is None:
        if len(memo) > limit:
            memo.clear()
        kept = memo[(id(template), key)] = (template, make())
    return kept[1]


def load_template(path: str | Path | None = None) -> Template:
    """Load and check a template; ``None`` or a bare name means a bundled one."""
    if path is None:
        path = "standard"
    p = Path(path)
    if p.suffix != ".toml" and not p.exists():
        p = template_dir() / f"{path}.toml"
    return _load(p.resolve())


@cache
def _load(p: Path) -> Template:
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{p}: template file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"{p}: cannot read template ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"{p}: not valid TOML ({e})") from None
    return _Checker(p).template(data)


class _Checker:
    """Turns the parsed TOML into typed objects, naming file and key on any error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, msg: str) -> TemplateError:
        return TemplateError(f"{self.path}: {key}: {msg}")

    def get(self, d: dict, key: str, where: str, kind: type | tuple, default: object = ...):
        if key not in d:
            if default is ...:
                raise self.fail(f"{where}.{key}".lstrip("."), "missing")
            return default
        v = d[key]
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{where}.{key}".lstrip("."), f"expected {names}, got {type(v).__name__}")
        return v

    def text(self, d: dict, key: str, where: str) -> Text:
        v = self.get(d, key, where, (dict, str))
        if isinstance(v, str):
            return {lang: v for lang in LANGS}
        missing = [lang for lang in LANGS if not isinstance(v.get(lang), str)]
        if missing:
            raise self.fail(f"{where}.{key}", f"needs a text for {', '.join(missing)}")
        return {lang: v[lang] for lang in LANGS}

    def template(self, data: dict) -> Template:
        meta = self.get(data, "template", "", dict)
        markers = {k: self.text(data["markers"], k, "markers") for k in self.get(data, "markers", "", dict)}
        lists: dict[str, dict[str, list[str]]] = {}
        for k, v in self.get(data, "lists", "", dict).items():
            if not isinstance(v, dict) or any(not isinstance(v.get(lang), list) or not v[lang] for lang in LANGS):
                raise self.fail(f"lists.{k}", "needs non-empty zh and en lists")
            if len(v["zh"]) != len(v["en"]):
                raise self.fail(f"lists.{k}", "zh and en lists differ in length")
            lists[k] = {lang: [str(x) for x in v[lang]] for lang in LANGS}
        formulas = {k: self.get(data["formulas"], k, "formulas", str) for k in self.get(data, "formulas", "", dict)}
        formats = {k: self.get(data["formats"], k, "formats", str) for k in self.get(data, "formats", "", dict)}
        for t in COLUMN_TYPES:
            if t not in formats:
                raise self.fail(f"formats.{t}", "missing")
        styles = {k: self.get(data["styles"], k, "styles", dict) for k in self.get(data, "styles", "", dict)}
        texts = {k: self.text(data["texts"], k, "texts") for k in self.get(data, "texts", "", dict)}
        self.markers, self.lists, self.formulas, self.styles = markers, lists, formulas, styles
        for name, text in formulas.items():
            for ph in PLACEHOLDER.findall(text):
                self.check_constant(ph, f"formulas.{name}")
        sheets = tuple(self.sheet(s, i) for i, s in enumerate(self.get(data, "sheets", "", list)))
        keys = [s.key for s in sheets]
        if len(set(keys)) != len(keys):
            raise self.fail("sheets", "duplicate sheet key")
        for s in sheets:
            for lang in LANGS:
                if len(s.name[lang]) > 31 or re.search(r"[\[\]:*?/\\]", s.name[lang]):
                    raise self.fail(f"sheets.{s.key}.name", f"not a valid Excel sheet name: {s.name[lang]!r}")
        tpl = Template(self.path, self.get(meta, "name", "template", str), self.get(meta, "version", "template", int),
                       self.text(meta, "title", "template"), markers, lists, formulas, formats, styles, texts, sheets)
        self.check_references(tpl)
        return tpl

    def check_constant(self, ph: str, where: str) -> None:
        head, _, rest = ph.partition(".")
        if head == "m" and rest not in self.markers:
            raise self.fail(where, f"unknown marker {{{ph}}}")
        if head == "l":
            lst, _, n = rest.partition(".")
            if lst not in self.lists or not n.isdigit() or not 1 <= int(n) <= len(self.lists[lst]["zh"]):
                raise self.fail(where, f"unknown list item {{{ph}}}")

    def rule(self, d: dict | None, where: str) -> FormulaRule | None:
        if d is None:
            return None
        if not isinstance(d, dict):
            raise self.fail(where, "expected a table such as { rule = \"attainment\", ... }")
        rule = self.get(d, "rule", where, str)
        if rule not in self.formulas:
            raise self.fail(f"{where}.rule", f"unknown formula rule {rule!r} (not in [formulas])")
        args = {k: str(v) for k, v in d.items() if k != "rule"}
        needed = {ph for ph in PLACEHOLDER.findall(self.formulas[rule]) if "." not in ph}
        if needed - set(args):
            raise self.fail(where, f"formula {rule!r} needs {', '.join(sorted(needed - set(args)))}")
        return FormulaRule(rule, args)

    def column(self, d: dict, where: str) -> Column:
        key = self.get(d, "key", where, str)
        where = f"{where}.{key}"
        ctype = self.get(d, "type", where, str)
        if ctype not in COLUMN_TYPES:
            raise self.fail(f"{where}.type", f"unknown type {ctype!r} (one of {', '.join(COLUMN_TYPES)})")
        lst = self.get(d, "list", where, str, None)
        if lst is not None and lst not in self.lists:
            raise self.fail(f"{where}.list", f"unknown list {lst!r}")
        if ctype == "choice" and lst is None:
            raise self.fail(f"{where}.list", "a choice column needs a list")
        conditions = []
        for j, c in enumerate(self.get(d, "conditions", where, list, [])):
            cw = f"{where}.conditions[{j}]"
            if not isinstance(c, dict):
                raise self.fail(cw, "expected a table")
            style = self.get(c, "style", cw, str)
            if style not in self.styles:
                raise self.fail(f"{cw}.style", f"unknown style {style!r} (not in [styles])")
            rule = {k: v for k, v in c.items() if k not in ("style", "row")}
            conditions.append(Condition(self.rule(rule, cw), style, self.get(c, "row", cw, bool, False)))
        return Column(key, self.text(d, "header", where), ctype, lst, self.get(d, "strict", where, bool, True),
                      self.get(d, "width", where, (int, float), 12), self.get(d, "hidden", where, bool, False),
                      self.get(d, "wrap", where, bool, False), self.get(d, "format", where, str, None),
                      self.rule(d.get("formula"), f"{where}.formula"), d.get("value"), tuple(conditions))

    def table(self, d: dict, where: str, default_key: str) -> Table:
        cols = tuple(self.column(c, f"{where}.columns") for c in self.get(d, "columns", where, list))
        keys = [c.key for c in cols]
        if len(set(keys)) != len(keys):
            raise self.fail(f"{where}.columns", "duplicate column key")
        for lang in LANGS:
            headers = [c.header[lang] for c in cols]
            if len(set(headers)) != len(headers):
                raise self.fail(f"{where}.columns", f"duplicate {lang} header")
        name = self.get(d, "table", where, str)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", name):
            raise self.fail(f"{where}.table", f"not a valid Excel table name: {name!r}")
        return Table(self.get(d, "key", where, str, default_key), name,
                     self.text(d, "title", where) if "title" in d else {lang: "" for lang in LANGS},
                     cols, self.get(d, "rows", where, int, 5))

    def sheet(self, d: dict, i: int) -> Sheet:
        where = f"sheets[{i}]"
        key = self.get(d, "key", where, str)
        where = f"sheets.{key}"
        kind = self.get(d, "kind", where, str)
        if kind not in SHEET_KINDS:
            raise self.fail(f"{where}.kind", f"unknown kind {kind!r} (one of {', '.join(SHEET_KINDS)})")
        tables: tuple[Table, ...] = ()
        if kind == "table":
            tables = (self.table(d, where, key),)
        elif kind == "costs":
            tables = tuple(self.table(t, f"{where}.tables", key) for t in self.get(d, "tables", where, list))
        elif kind == "dashboard":
            tables = (Table(key, f"{key}_data", {lang: "" for lang in LANGS},
                            tuple(self.column(c, f"{where}.columns") for c in self.get(d, "columns", where, list))),)
        fields = tuple(
            Field(self.get(f, "key", f"{where}.{group}", str, f"{group}{j}"),
                  self.get(f, "name", f"{where}.{group}", str, ""), self.text(f, "label", f"{where}.{group}"),
                  self.get(f, "type", f"{where}.{group}", str),
                  self.rule(f.get("formula"), f"{where}.{group}[{j}].formula"))
            for group in ("fields", "totals", "kpis") for j, f in enumerate(d.get(group, []))
        )
        steps = tuple(Step(self.text(s, "name", f"{where}.steps"), self.get(s, "days", f"{where}.steps", int),
                           self.text(s, "window", f"{where}.steps"), self.text(s, "content", f"{where}.steps"))
                      for s in d.get("steps", []))
        rules = tuple(Rule(self.text(r, "name", f"{where}.rules"), self.text(r, "text", f"{where}.rules"))
                      for r in d.get("rules", []))
        charts = tuple(Chart(self.get(c, "kind", f"{where}.charts", str), self.text(c, "title", f"{where}.charts"))
                       for c in d.get("charts", []))
        return Sheet(key, kind, self.text(d, "name", where), self.text(d, "title", where), tables, fields, steps,
                     rules, charts, self.get(d, "source", where, str, None))

    def check_references(self, tpl: Template) -> None:
        """Every formula argument must name something that exists."""
        for s in tpl.sheets:
            for t in s.tables:
                own = {c.key for c in t.columns}
                source = set()
                if s.kind == "dashboard":
                    if s.source is None or not tpl.has(s.source):
                        raise self.fail(f"sheets.{s.key}.source", "needs the key of a table sheet")
                    source = {c.key for c in tpl.sheet(s.source).table.columns}
                for c in t.columns:
                    rules = [("formula", c.formula)] + [(f"conditions[{j}]", k.rule) for j, k in enumerate(c.conditions)]
                    for part, rule in rules:
                        for arg, ref in (rule.args.items() if rule else ()):
                            if ref not in own | source and not self.is_constant(ref, tpl):
                                raise self.fail(f"sheets.{s.key}.columns.{c.key}.{part}.{arg}",
                                                f"unknown column {ref!r}")
            local = {f.key for f in s.fields}
            for f in s.fields:
                if f.formula:
                    for arg, ref in f.formula.args.items():
                        if ref not in local and not self.is_constant(ref, tpl):
                            raise self.fail(f"sheets.{s.key}.{f.key}.formula.{arg}", f"unknown reference {ref!r}")

    def is_constant(self, ref: str, tpl: Template) -> bool:
        head, _, rest = ref.partition(".")
        if head in ("m", "l"):
            self.check_constant(ref, "formula")
            return True
        if head == "name":
            return True
        try:
            _, table = tpl.table(head)
        except KeyError:
            return False
        return rest in {c.key for c in table.columns}
