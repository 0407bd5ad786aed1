"""Cell notes (legacy comments): the comments part and its VML drawing, edited as text.

A note lives in two parts: ``commentsN.xml`` holds its text and author, the sheet's
VML drawing holds the (hidden) box Excel shows on hover. retroxl's notes carry the
author :data:`retroxl.books.base.MARK_AUTHOR`, so a later run removes exactly those
and leaves every other note, and every other VML shape (form buttons), alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..layout import a1
from .parts import MAIN
from .sheetxml import attrs, escape, parse_ref, unescape

_COMMENT = re.compile(r"<comment\b([^>]*?)(?:/>|>.*?</comment>)", re.S)
_AUTHOR = re.compile(r"<author>(.*?)</author>|<author\s*/>", re.S)
_SHAPE = re.compile(r"<v:shape\b[^>]*>.*?</v:shape>", re.S)
_SHAPE_ID = re.compile(r'id="_x0000_s(\d+)"')
_RUN = '<r><rPr>{b}<sz val="9"/><color indexed="81"/><rFont val="Tahoma"/><family val="2"/></rPr><t{space}>{text}</t></r>'

NEW_COMMENTS = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="{MAIN}">'
                "<authors></authors><commentList></commentList></comments>")
NEW_VML = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
           'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
           '<o:idmap v:ext="edit" data="{block}"/></o:shapelayout></xml>')
_NOTE_TYPE = ('<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
              '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')


def note_cells(comments: str) -> set[tuple[int, int]]:
    """Every cell that carries a note, whoever wrote it."""
    out = set()
    for m in _COMMENT.finditer(comments):
        ref = attrs(m.group(1)).get("ref")
        if ref:
            try:
                out.add(parse_ref(ref))
            except ValueError:
                pass
    return out


def _authors(comments: str) -> list[str]:
    block = re.search(r"<authors>(.*?)</authors>|<authors\s*/>", comments, re.S)
    return [unescape(m.group(1) or "") for m in _AUTHOR.finditer(block.group(1) or "")] if block else []


def remove_notes(comments: str, author: str) -> tuple[str, set[tuple[int, int]]]:
    """The comments part without ``author``'s notes, and the cells they were on."""
    authors = _authors(comments)
    if author not in authors:
        return comments, set()
    ours = str(authors.index(author))
    removed: set[tuple[int, int]] = set()

    def drop(m: re.Match) -> str:
        a = attrs(m.group(1))
        if a.get("authorId") != ours:
            return m.group(0)
        try:
            removed.add(parse_ref(a.get("ref", "")))
        except ValueError:
            pass
        return ""

    return _COMMENT.sub(drop, comments), removed


def add_notes(comments: str, author: str, notes: Sequence[tuple[int, int, str]]) -> str:
    """The comments part with a note per (row, col, text), written by ``author``."""
    authors = _authors(comments)
    if author not in authors:
        if re.search(r"<authors\s*/>", comments):
            comments = re.sub(r"<authors\s*/>", "<authors></authors>", comments, count=1)
        comments = comments.replace("</authors>", f"<author>{escape(author)}</author></authors>", 1)
        authors.append(author)
    aid = authors.index(author)
    items = []
    for row, col, text in notes:
        body = "\n" + text
        items.append(f'<comment ref="{a1(row, col)}" authorId="{aid}"><text>'
                     + _RUN.format(b="<b/>", space="", text=escape(author + ":"))
                     + _RUN.format(b="", space=' xml:space="preserve"', text=escape(body))
                     + "</text></comment>")
    if re.search(r"<commentList\s*/>", comments):
        comments = re.sub(r"<commentList\s*/>", "<commentList></commentList>", comments, count=1)
    return comments.replace("</commentList>", "".join(items) + "</commentList>", 1)


def has_notes(comments: str) -> bool:
    return bool(_COMMENT.search(comments))


def remove_shapes(vml: str, cells: set[tuple[int, int]]) -> str:
    """The VML drawing without the note boxes of ``cells`` (buttons and other shapes stay)."""
    if not cells:
        return vml

    def drop(m: re.Match) -> str:
        shape = m.group(0)
        if 'ObjectType="Note"' not in shape:
            return shape
        row = re.search(r"<x:Row>\s*(\d+)\s*</x:Row>", shape)
        col = re.search(r"<x:Column>\s*(\d+)\s*</x:Column>", shape)
        if row and col and (int(row.group(1)), int(col.group(1))) in cells:
            return ""
        return shape

    return _SHAPE.sub(drop, vml)


def has_shapes(vml: str) -> bool:
    return bool(_SHAPE.search(vml))


def add_shapes(vml: str, cells: Sequence[tuple[int, int]]) -> str:
    """The VML drawing with a hidden note box for each cell."""
    if not cells:
        return vml
    if 'id="_x0000_t202"' not in vml:
        vml = _insert_before_shapes(vml, _NOTE_TYPE)
    ids = [int(x) for x in _SHAPE_ID.findall(vml)]
    block = re.search(r'<o:idmap\b[^>]*data="(\d+)', vml)
    next_id = max(ids) + 1 if ids else int(block.group(1) if block else 1) * 1024 + 1
    shapes = []
    for k, (row, col) in enumerate(cells):
        top = max(row - 1, 0)
        shapes.append(
            f'<v:shape id="_x0000_s{next_id + k}" type="#_x0000_t202" style="position:absolute;'
            f'margin-left:{(col + 1) * 48 + 11.25}pt;margin-top:{top * 15 + 7.5}pt;width:144pt;height:60pt;'
            f'z-index:{next_id + k - 1024};visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
            '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f'<x:Anchor>{col + 1}, 15, {top}, 10, {col + 4}, 15, {top + 4}, 4</x:Anchor>'
            f'<x:AutoFill>False</x:AutoFill><x:Row>{row}</x:Row><x:Column>{col}</x:Column></x:ClientData></v:shape>')
    idx = vml.rfind("</xml>")
    return vml[:idx] + "".join(shapes) + vml[idx:]


def _insert_before_shapes(vml: str, text: str) -> str:
    m = re.search(r"<v:shape\b", vml)
    idx = m.start() if m else vml.rfind("</xml>")
    return vml[:idx] + text + vml[idx:]
