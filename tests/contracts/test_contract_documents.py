"""Contract documents: the content model (pure), the dispute-resolution rule, amounts in
capital numerals, and the PDF: Chinese glyphs in the stream, byte-identical renders."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from tailguard.contracts.documents import (
    MANDATORY_CLAUSES,
    AddendumFacts,
    Clause,
    ContractFacts,
    DisputePolicy,
    DocumentKind,
    Forum,
    ForumKind,
    Language,
    LenderFacts,
    MaturityFacts,
    PartyFacts,
    ScheduleLine,
    Table,
    VehicleFacts,
    build_addendum,
    build_contract,
    capital_yuan,
    choose_forum,
    document_id,
    is_cross_region,
    missing_clauses,
    money_text,
    rate_text,
)
from tailguard.contracts.pdf import render_pdf

POLICY = DisputePolicy(Forum(ForumKind.COURT, "上海市浦东新区人民法院"),
                       Forum(ForumKind.ARBITRATION, "上海仲裁委员会"))
LENDER = LenderFacts("天衢汽车金融有限公司", "310115", "上海市浦东新区")
BORROWER = PartyFacts("张三", "110105198503151237", "+8613800138000", "广东省深圳市南山区科技园")


def schedule(balloon_fen: int = 60_000_00) -> tuple[ScheduleLine, ...]:
    lines = []
    for n in range(1, 37):
        due = date(2026 + n // 12 if n % 12 else 2026 + n // 12 - 1, (n - 1) % 12 + 1, 10)
        lines.append(ScheduleLine(n, due, 3_900_00 + (balloon_fen if n == 36 else 0), 517_73,
                                  0, balloon_fen if n == 36 else 0, 0))
    return tuple(lines)


def facts(**changes: object) -> ContractFacts:
    base = ContractFacts(
        loan_id="L00001", signing_date=date(2026, 1, 10), lender=LENDER, borrower=BORROWER,
        guarantor=None, dealer_name="深圳某汽车销售服务有限公司",
        vehicle=VehicleFacts("LSVAU2180SA000001", "new", "nev", 250_000_00, "深圳市车管所",
                             "广东省深圳市"),
        product_name="弹性尾款 auto loan", principal_fen=201_500_00, financed_fees_fen=1_500_00,
        upfront_fees_fen=2_000_00, annual_rate=Decimal("0.0475"),
        annualised_rate=Decimal("0.0612345678"), term_months=36, day_count_days=360,
        schedule=schedule(), maturity=MaturityFacts(6, 36, 18, False, False),
        penalty_multiplier=Decimal("1.5"), grace_days=0,
        forum=choose_forum(POLICY, True), cross_region=True, gps_device=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fen", "text"), [
    (0, "人民币零元整"),
    (5, "人民币伍分"),
    (50, "人民币伍角"),
    (100, "人民币壹元整"),
    (1_005, "人民币壹拾元零伍分"),
    (10_005, "人民币壹佰元零伍分"),
    (123_456, "人民币壹仟贰佰叁拾肆元伍角陆分"),
    (200_000_00, "人民币贰拾万元整"),
    (100_010_00, "人民币壹拾万零壹拾元整"),
    (1_000_001_00, "人民币壹佰万零壹元整"),
    (1_000_000_000, "人民币壹仟万元整"),
    (100_000_100_00, "人民币壹亿零壹佰元整"),
    (60_500_00, "人民币陆万零伍佰元整"),
])
def test_capital_numerals(fen: int, text: str) -> None:
    assert capital_yuan(fen) == text


def test_money_and_rate_text() -> None:
    assert money_text(201_500_00) == "¥201,500.00"
    assert money_text(99) == "¥0.99"
    assert money_text(1_234_567_89) == "¥1,234,567.89"
    assert rate_text(Decimal("0.0475")) == "4.75%"
    assert rate_text(Decimal("0.05")) == "5%"
    assert rate_text(Decimal("0.071250")) == "7.125%"


def test_cross_region_borrowers_get_the_cross_region_forum() -> None:
    assert is_cross_region("310115", ["110105", "440305"])  # Beijing ID, Shenzhen residence
    assert is_cross_region("310115", [None, "440305"])
    assert not is_cross_region("310115", ["310104", "310110"])  # Shanghai districts
    assert not is_cross_region("310115", [None, None])
    assert is_cross_region("440305", ["440106"])  # Shenzhen seat, Guangzhou borrower
    assert not is_cross_region("440305", ["440304"])  # both Shenzhen
    assert choose_forum(POLICY, True) == Forum(ForumKind.ARBITRATION, "上海仲裁委员会")
    assert choose_forum(POLICY, False) == Forum(ForumKind.COURT, "上海市浦东新区人民法院")
    assert Forum.parse("court:北京市朝阳区人民法院").kind is ForumKind.COURT
    for bad in ("court", "tribunal:X", "arbitration: "):
        with pytest.raises(ValueError, match="forum"):
            Forum.parse(bad)


def test_the_contract_carries_every_mandatory_clause_and_the_facts() -> None:
    document = build_contract(facts())
    assert document.document_id == "L00001/contract/v1" == document_id(
        "L00001", DocumentKind.CONTRACT, 1)
    assert document.clause_ids == tuple(c.value for c in MANDATORY_CLAUSES[DocumentKind.CONTRACT])
    assert missing_clauses(DocumentKind.CONTRACT, document.clause_ids) == ()
    text = document.text()
    for expected in (
        "张三", "110105198503151237",  # the legal document names the borrower in full
        "LSVAU2180SA000001", "¥201,500.00", "人民币贰拾万壹仟伍佰元整",
        "合同利率（年化单利）：4.75%", "6.12%",  # contract and annualised rate side by side
        "尾款（弹性尾款）¥60,000.00", "2028-12-10",  # the balloon, its amount and date
        "尾款分期", "展期", "累计展期不超过18个月", "置换", "退还车辆：本产品不适用",
        "1.5倍（即年利率7.125%）", "日利率 = 年利率 ÷ 360",
        "深圳市车管所", "上海仲裁委员会", "异地", "单独签字",
    ):
        assert expected in text, expected
    schedule_section = next(s for s in document.sections if s.clause is Clause.SCHEDULE)
    assert schedule_section.table is not None
    assert len(schedule_section.table.rows) == 36 + 1  # every instalment and the total
    gps = next(s for s in document.sections if s.clause is Clause.GPS_CONSENT)
    pi = next(s for s in document.sections if s.clause is Clause.PERSONAL_INFORMATION)
    assert "独立于第十条" in gps.paragraphs[0] and gps is not pi


def test_local_borrowers_get_the_local_court_and_english_reads_the_same_facts() -> None:
    local = build_contract(facts(forum=choose_forum(POLICY, False), cross_region=False))
    text = local.text()
    assert "上海市浦东新区人民法院提起诉讼" in text and "异地" not in text
    english = build_contract(facts(), Language.EN).text()
    for expected in ("Contract rate (simple annual): 4.75%", "annualised rate", "6.12%",
                     "The balloon (尾款) of ¥60,000.00", "2028-12-10", "上海仲裁委员会",
                     "cross-region", "Separate consent to vehicle tracking", "深圳市车管所"):
        assert expected in english, expected


def test_a_loan_without_balloon_still_states_the_balloon_clause() -> None:
    document = build_contract(facts(schedule=schedule(balloon_fen=0)))
    assert missing_clauses(DocumentKind.CONTRACT, document.clause_ids) == ()
    assert "本合同不设尾款" in document.text()


def test_missing_clauses_are_named() -> None:
    ids = [c for c in build_contract(facts()).clause_ids if c != "gps-consent"]
    assert missing_clauses(DocumentKind.CONTRACT, ids) == (Clause.GPS_CONSENT,)


def test_addendum() -> None:
    addendum = build_addendum(AddendumFacts(
        loan_id="L00001", version=2, base_document_id="L00001/contract/v1",
        signing_date=date(2028, 12, 1), reason="extend", lender=LENDER, borrower=BORROWER,
        guarantor=None, annual_rate=Decimal("0.0475"), previous_balloon_fen=60_000_00,
        outstanding_schedule=schedule(0)[-6:], extended_months_total=6,
        extension_cap_months=18, penalty_multiplier=Decimal("1.5"), day_count_days=360,
        forum=POLICY.cross_region, detail=(("appraised_value", 80_000_00),),
    ))
    assert addendum.document_id == "L00001/addendum/v2"
    assert missing_clauses(DocumentKind.ADDENDUM, addendum.clause_ids) == ()
    text = addendum.text()
    for expected in ("展期", "L00001/contract/v1", "变更前尾款：¥60,000.00", "累计展期：6个月",
                     "车辆评估价值：¥80,000.00", "上海仲裁委员会"):
        assert expected in text, expected


def shown_text(pdf: bytes) -> str:
    """The text drawn by the PDF's content streams (ASCII85 + Flate, UCS-2 CID strings)."""
    return "".join(shown_strings(pdf))


def shown_strings(pdf: bytes) -> list[str]:
    """Each string the PDF draws (one `Tj` each: a line of a paragraph, a table cell)."""
    drawn = []
    for body in re.findall(rb">>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        body = body.strip()
        if body.endswith(b"~>"):
            body = body[:-2]
        content = zlib.decompress(base64.a85decode(body))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m[1], 8)])
                         if m[1][:1].isdigit() else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(
                             m[1], m[1]), literal)
            drawn.append(raw.decode("utf-16-be", "replace"))
    return drawn


def test_pdf_is_byte_identical_and_draws_the_chinese_text() -> None:
    document = build_contract(facts())
    first = render_pdf(document)
    assert first == render_pdf(document)
    assert first.startswith(b"%PDF-") and first.rstrip().endswith(b"%%EOF")
    assert b"/STSong-Light" in first and b"/UniGB-UCS2-H" in first
    assert b"/FontFile" not in first  # a CID font the reader supplies: nothing embedded
    drawn = shown_text(first)
    for expected in ("汽车消费贷款借款及抵押合同", "第五条 尾款", "张三", "110105198503151237",
                     "LSVAU2180SA000001", "上海仲裁委员会", "L00001/contract/v1"):
        assert expected in drawn, expected
    changed = render_pdf(build_contract(facts(schedule=schedule(59_999_99))))
    assert changed != first


def test_table_cells_that_fit_are_drawn_whole_and_longer_ones_wrap() -> None:
    document = build_contract(facts())
    section = next(s for s in document.sections if s.table is not None)
    assert section.table is not None
    header, rows = section.table.header, section.table.rows
    long = "尾款到期时借款人可以一次结清、申请展期或再融资、以旧换新或交还车辆。" * 2
    table = Table(header, (*rows, (long,) + ("-",) * (len(header) - 1)))
    wide = replace(document, sections=tuple(
        replace(s, table=table) if s is section else s for s in document.sections))
    drawn = shown_strings(render_pdf(wide))
    # Every amount and date of the schedule is one drawn string of its own.
    for row in rows:
        for cell in row:
            assert cell in drawn, cell
    # The long cell is broken into lines within its column, none of them the whole text.
    assert long not in drawn and long in "".join(drawn)
    assert sum(1 for piece in drawn if piece and piece in long) >= 3
