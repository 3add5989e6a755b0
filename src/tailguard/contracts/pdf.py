"""PDF bytes of a `ContractDocument`, with Chinese text, the same bytes every time.

- Font: reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1, encoding UniGB-UCS2-H). A CID
  font is not embedded: the PDF names it and every reader ships an Adobe-GB1 fallback, so the
  file stays small and no font file has to be licensed or shipped. Every character, Chinese or
  Latin, is drawn with it, so names, offices and amounts need no per-script switching.
- Determinism: reportlab's ``invariant=1`` fixes the creation date and the document ID, and
  nothing else in the output depends on the clock or on dict order; the same document gives
  byte-identical bytes, which is what the transparency log hashes. A test renders twice.
- Layout: A4, a title, each clause as a heading and paragraphs (CJK line breaking), tables with
  a repeated header row, page numbers and the document identifier in the footer.

Pure apart from reportlab (no files, no clock); the service stores the bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tailguard.contracts.documents import ContractDocument, Language

FONT = "STSong-Light"
PDF_PRODUCER = "tailguard contracts"
CELL_PADDING = 2

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK",
                          spaceAfter=3)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=1,
                                spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, alignment=1, spaceAfter=10),
        "heading": ParagraphStyle("heading", parent=base, fontSize=11, leading=16,
                                  spaceBefore=8, spaceAfter=4),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5, spaceAfter=0),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _cell_maker(style: ParagraphStyle, room: float) -> Callable[[str], object]:
    """A table cell: the text itself when it fits on one line (dates, amounts, numbers: most
    cells of a schedule), a wrapping paragraph otherwise. A plain string is drawn as is, while
    a paragraph is parsed, measured and broken for every cell: for a 60-instalment schedule
    that was most of a contract's rendering time."""

    def cell(text: str) -> object:
        if "\n" not in text and pdfmetrics.stringWidth(text, FONT, style.fontSize) <= room:
            return text
        return _p(text, style)

    return cell


def render_pdf(document: ContractDocument) -> bytes:
    """The document as PDF bytes; the same document always gives the same bytes."""
    styles = _styles()
    buffer = io.BytesIO()
    footer = document.document_id

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        page = canvas.getPageNumber()
        label = f"第 {page} 页" if document.language is Language.ZH else f"page {page}"
        canvas.drawString(18 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, label)
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm, title=document.title, author=PDF_PRODUCER,
        subject=document.document_id, creator=PDF_PRODUCER, invariant=1,
        lang="zh-CN" if document.language is Language.ZH else "en",
    )
    story: list[object] = [_p(document.title, styles["title"]),
                           _p(document.subtitle, styles["subtitle"])]
    for section in document.sections:
        story.append(_p(section.heading, styles["heading"]))
        story.extend(_p(text, styles["body"]) for text in section.paragraphs)
        if section.table is not None:
            header = section.table.header
            width = (A4[0] - 36 * mm) / len(header)
            cell = _cell_maker(styles["cell"], width - 2 * CELL_PADDING)
            data: list[list[object]] = [[cell(text) for text in header]]
            data.extend([cell(text) for text in row] for row in section.table.rows)
            table = Table(data, colWidths=[width] * len(header), repeatRows=1, hAlign="LEFT")
            table.setStyle(TableStyle([
                ("FONT", (0, 0), (-1, -1), styles["cell"].fontName, styles["cell"].fontSize,
                 styles["cell"].leading),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ]))
            story.append(table)
        story.append(Spacer(1, 2 * mm))
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
