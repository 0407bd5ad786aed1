"""File names made from campaign names: safe on Windows, macOS and Linux, unique, inside the folder."""

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retroxl.safe_names import MAX_STEM_BYTES, UniqueNames, safe_stem

WINDOWS_FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)}


def check_portable(name: str) -> None:
    """What Windows, macOS and Linux all accept as one file name."""
    assert name and name not in (".", "..")
    assert not WINDOWS_FORBIDDEN & set(name), name
    assert not name.endswith((" ", ".")) and not name.startswith((" ", "."))
    assert len(name.encode()) <= 255 and len(name.encode("utf-16-le")) // 2 <= 255
    base = name.split(".")[0].rstrip(" ").upper()
    assert base not in {"CON", "PRN", "AUX", "NUL"} and not (base[:3] in ("COM", "LPT") and base[3:] in
                                                               list("123456789¹²³"))


@pytest.mark.parametrize("name, stem", [
    ("2024夏季新品推广", "2024夏季新品推广"),
    ("双11/双12 大促", "双11／双12 大促"),
    ("../../etc/passwd", "／..／etc／passwd"),
    ("/etc/passwd", "／etc／passwd"),
    ("C:\\Windows\\win.ini", "C：＼Windows＼win.ini"),
    ("..", "campaign"),
    ("   ", "campaign"),
    ("...hidden", "hidden"),
    ("name. . ", "name"),
    ("CON", "_CON"),
    ("con.xlsx", "_con.xlsx"),
    ("Lpt1", "_Lpt1"),
    ("COM¹", "_COM¹"),
    ("CONSOLE", "CONSOLE"),
    ("满100减20% #1", "满100减20％ ＃1"),
    ("a\tb\nc", "a b c"),
    ("nul\x00byte", "nulbyte"),
    ("invoice\u202eslx.exe", "invoiceslx.exe"),
    ("  多个   空格  ", "多个 空格"),
])
def test_safe_stem(name, stem):
    assert safe_stem(name) == stem
    check_portable(stem + ".xlsx")


def test_overlong_names_are_cut_between_characters():
    stem = safe_stem("超长活动名称" * 100)
    assert len(stem.encode()) <= MAX_STEM_BYTES
    assert stem == ("超长活动名称" * 100)[:len(stem)]          # no broken character at the end
    assert len(safe_stem("e\u0301" * 200).encode()) <= MAX_STEM_BYTES
    assert not unicodedata.combining(safe_stem("ab" + "e\u0301" * 100)[-1])


def test_unique_names_ignore_case_and_normalization():
    names = UniqueNames(reserved=["汇总.xlsx"])
    assert names.take("双11") == "双11.xlsx"
    assert names.take("双11") == "双11 (2).xlsx"
    assert names.take("Sale") == "Sale.xlsx"
    assert names.take("SALE") == "SALE (2).xlsx"                   # one file on Windows and macOS
    assert names.take("Cafe\u0301") == "Café.xlsx"                 # NFD as macOS stores it
    assert names.take("Caf\u00e9") == "Café (2).xlsx"
    assert names.take("汇总") == "汇总 (2).xlsx"                    # the index keeps its name
    assert names.take("双11 (2)") == "双11 (2) (2).xlsx"


def test_suffix_still_fits_an_overlong_name():
    names = UniqueNames()
    first, second = names.take("长" * 200), names.take("长" * 200)
    assert first != second and second.endswith(" (2).xlsx")
    assert len(second.encode()) <= MAX_STEM_BYTES + len(".xlsx")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=8))
def test_any_names_give_distinct_portable_files_inside_the_folder(tmp_path_factory, campaign_names):
    folder = tmp_path_factory.mktemp("out")
    names = UniqueNames(reserved=["汇总.xlsx"])
    made = [names.take(n) for n in campaign_names]
    assert len({unicodedata.normalize("NFC", m).casefold() for m in made}) == len(made)
    for m in made:
        check_portable(m)
        path = folder / m
        assert path.resolve().parent == folder.resolve()
        path.write_bytes(b"x")                         # the file system takes it
    assert sorted(p.name for p in folder.iterdir()) == sorted(made)


def test_the_names_work_as_files(tmp_path: Path):
    names = UniqueNames()
    for n in ["../x", "CON", "a:b", "名" * 300, "trailing. ", "\x00nul"]:
        (tmp_path / names.take(n)).write_bytes(b"x")
    assert len(list(tmp_path.iterdir())) == 6
