"""Contract documents as content: the loan contract and its addenda, Chinese or English.

Pure: a service gathers the facts (parties with their full names and ID numbers, the vehicle,
the terms, the schedule, the lender's dispute-resolution setting) and this module turns them
into a `ContractDocument`, an ordered tuple of clauses with their text and tables. A renderer
(`contracts.pdf`) turns that into PDF bytes; nothing here knows about files, databases or
fonts. The same facts always give the same document, which is what makes the PDF reproducible
and its hash meaningful.

Each clause has a stable id (`Clause`); the ids present are recorded when a document is
issued, and `MANDATORY_CLAUSES` says which a document of each kind must carry, so the
compliance review can check stored documents without re-reading any PDF.

Dispute resolution (争议解决) is chosen per loan by `choose_forum`: a borrower whose household
registration or residence is in another city than the lender's seat (异地) gets the forum the
lender configured for cross-region borrowers, stated by its full name in the contract (an
arbitration commission by default: an award is enforceable in any province and no court has to
decide first whether an agreed court was validly chosen); a local borrower gets the lender's
local forum (the people's court at the lender's seat by default). See ADR 0006.

The wording is a template for the lender's counsel to review, not legal advice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from tailguard.money import yuan
from tailguard.money.rates import percent_text
from tailguard.regions.divisions import city_code_of

TEMPLATE_VERSION = 1
"""Bumped whenever the wording changes; recorded with every issued document."""


class DocumentKind(StrEnum):
    CONTRACT = "contract"
    """借款及抵押合同: the loan and vehicle-mortgage contract signed at booking."""
    ADDENDUM = "addendum"
    """补充协议: a change of schedule (restructure, refinance, extension, trade-in, return)."""


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class Clause(StrEnum):
    """Stable ids of the clauses; the compliance review checks documents by these."""

    PARTIES = "parties"
    VEHICLE = "vehicle"
    AMOUNT_AND_RATES = "amount-and-rates"
    SCHEDULE = "schedule"
    BALLOON = "balloon"
    MATURITY_OPTIONS = "maturity-options"
    PENALTY_AND_DEFAULT = "penalty-and-default"
    MORTGAGE = "mortgage"
    DISPUTE_RESOLUTION = "dispute-resolution"
    PERSONAL_INFORMATION = "personal-information-consent"
    GPS_CONSENT = "gps-consent"
    SIGNATURES = "signatures"
    CHANGE = "change"
    NEW_SCHEDULE = "new-schedule"
    CONTINUITY = "continuity"


MANDATORY_CLAUSES: Mapping[DocumentKind, tuple[Clause, ...]] = MappingProxyType({
    DocumentKind.CONTRACT: (
        Clause.PARTIES, Clause.VEHICLE, Clause.AMOUNT_AND_RATES, Clause.SCHEDULE,
        Clause.BALLOON, Clause.MATURITY_OPTIONS, Clause.PENALTY_AND_DEFAULT, Clause.MORTGAGE,
        Clause.DISPUTE_RESOLUTION, Clause.PERSONAL_INFORMATION, Clause.GPS_CONSENT,
        Clause.SIGNATURES,
    ),
    DocumentKind.ADDENDUM: (
        Clause.PARTIES, Clause.CHANGE, Clause.NEW_SCHEDULE, Clause.PENALTY_AND_DEFAULT,
        Clause.DISPUTE_RESOLUTION, Clause.CONTINUITY, Clause.SIGNATURES,
    ),
})
"""What every document of a kind must contain. A contract without a balloon still carries the
balloon clause (saying there is none), so the check is the same for every product."""


def missing_clauses(kind: DocumentKind, present: Sequence[str]) -> tuple[Clause, ...]:
    """The mandatory clauses of `kind` that are not among `present` (clause ids)."""
    have = set(present)
    return tuple(c for c in MANDATORY_CLAUSES[kind] if c.value not in have)


# -- dispute resolution --------------------------------------------------------------------
class ForumKind(StrEnum):
    ARBITRATION = "arbitration"
    COURT = "court"


@dataclass(frozen=True)
class Forum:
    """Where disputes go: an arbitration commission or a people's court, by its full name."""

    kind: ForumKind
    name: str

    def __post_init__(self) -> None:
        assert self.name.strip(), "a forum is named"

    @classmethod
    def parse(cls, text: str) -> Forum:
        """`arbitration:上海仲裁委员会` or `court:上海市浦东新区人民法院`."""
        kind, sep, name = text.partition(":")
        if not sep or kind not in (k.value for k in ForumKind) or not name.strip():
            raise ValueError("a forum is 'arbitration:NAME' or 'court:NAME'")
        return cls(ForumKind(kind), name.strip())

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"


@dataclass(frozen=True)
class DisputePolicy:
    """The lender's setting: one forum for borrowers local to its seat, one for 异地."""

    local: Forum
    cross_region: Forum


def is_cross_region(lender_seat_code: str, borrower_codes: Sequence[str | None]) -> bool:
    """True when any known place of the borrower (household registration from the ID number,
    residence) lies in another city than the lender's seat (municipalities count as one city).
    A code known only to province level counts as another city unless it is the seat's
    municipality."""
    seat = city_code_of(lender_seat_code) or lender_seat_code[:2] + "0000"
    for code in borrower_codes:
        if not code:
            continue
        city = city_code_of(code) or code[:2] + "0000"
        if city != seat:
            return True
    return False


def choose_forum(policy: DisputePolicy, cross_region: bool) -> Forum:
    return policy.cross_region if cross_region else policy.local


# -- facts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartyFacts:
    """A natural person as the contract names them: in full (it is the legal document)."""

    name: str
    id_number: str
    phone: str
    address: str | None = None


@dataclass(frozen=True)
class LenderFacts:
    name: str
    seat_region_code: str
    seat_name: str
    """The seat as words, e.g. 上海市浦东新区."""


@dataclass(frozen=True)
class VehicleFacts:
    vin: str
    condition: str  # new, used
    energy: str  # fuel, nev
    price_fen: int
    registration_office: str
    registration_region_name: str


@dataclass(frozen=True)
class ScheduleLine:
    number: int
    due_date: date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    balloon_fen: int
    balance_after_fen: int

    @property
    def payment_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen


@dataclass(frozen=True)
class MaturityFacts:
    """The options at balloon maturity and their caps, from the product."""

    refinance_months_min: int
    refinance_months_max: int
    extension_cap_months: int
    vehicle_return_allowed: bool
    has_guarantor: bool


@dataclass(frozen=True)
class ContractFacts:
    loan_id: str
    signing_date: date
    lender: LenderFacts
    borrower: PartyFacts
    guarantor: PartyFacts | None
    dealer_name: str
    vehicle: VehicleFacts
    product_name: str
    principal_fen: int
    """Financed amount, financed fees included."""
    financed_fees_fen: int
    upfront_fees_fen: int
    annual_rate: Decimal
    annualised_rate: Decimal
    term_months: int
    day_count_days: int
    schedule: tuple[ScheduleLine, ...]
    maturity: MaturityFacts
    penalty_multiplier: Decimal
    grace_days: int
    forum: Forum
    cross_region: bool
    gps_device: bool

    def __post_init__(self) -> None:
        assert self.schedule, "a contract has a schedule"
        assert self.principal_fen > 0

    @property
    def balloon_fen(self) -> int:
        return sum(line.balloon_fen for line in self.schedule)

    @property
    def balloon_due_date(self) -> date | None:
        for line in reversed(self.schedule):
            if line.balloon_fen:
                return line.due_date
        return None


@dataclass(frozen=True)
class AddendumFacts:
    loan_id: str
    version: int
    base_document_id: str
    signing_date: date
    reason: str
    """restructure, refinance, extend, trade-in or return-vehicle."""
    lender: LenderFacts
    borrower: PartyFacts
    guarantor: PartyFacts | None
    annual_rate: Decimal
    previous_balloon_fen: int
    outstanding_schedule: tuple[ScheduleLine, ...]
    """The instalments still to pay under the new schedule version."""
    extended_months_total: int
    extension_cap_months: int
    penalty_multiplier: Decimal
    day_count_days: int
    forum: Forum
    detail: tuple[tuple[str, int], ...] = ()
    """Amounts of the change in fen by key (`appraised_value`, `surplus`, `shortfall`; see
    `DETAIL_LABELS`)."""


# -- the document --------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        assert all(len(r) == len(self.header) for r in self.rows), "rows match the header"


@dataclass(frozen=True)
class Section:
    clause: Clause
    heading: str
    paragraphs: tuple[str, ...]
    table: Table | None = None


@dataclass(frozen=True)
class ContractDocument:
    loan_id: str
    kind: DocumentKind
    version: int
    language: Language
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    template: str = field(default="")

    @property
    def document_id(self) -> str:
        return document_id(self.loan_id, self.kind, self.version)

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return tuple(s.clause.value for s in self.sections)

    def text(self) -> str:
        """Every word of the document as plain text (for tests and search, not for signing)."""
        parts = [self.title, self.subtitle]
        for section in self.sections:
            parts.append(section.heading)
            parts.extend(section.paragraphs)
            if section.table is not None:
                parts.append(" ".join(section.table.header))
                parts.extend(" ".join(row) for row in section.table.rows)
        return "\n".join(parts)


def document_id(loan_id: str, kind: DocumentKind, version: int) -> str:
    """The identifier of a document, written into its log leaf: `LOAN/kind/vN`."""
    assert version >= 1
    return f"{loan_id}/{kind.value}/v{version}"


# -- formatting ----------------------------------------------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = ("", "万", "亿", "万亿")


def _four_digits(value: int) -> str:
    """0 < value < 10000 in capital numerals, with 零 for inner zeros (no leading 零)."""
    out = ""
    zero = False
    for position in range(3, -1, -1):
        digit = value // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _SMALL_UNITS[position]
    return out


def capital_yuan(fen: int) -> str:
    """An amount in the capital numerals contracts use (大写): 人民币贰拾万元整."""
    assert fen >= 0, "contract amounts are not negative"
    whole, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    text = ""
    if whole:
        groups: list[int] = []
        while whole:
            groups.append(whole % 10_000)
            whole //= 10_000
        assert len(groups) <= len(_BIG_UNITS), "amount too large for a contract"
        need_zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                need_zero = bool(text)
                continue
            if text and (need_zero or group < 1000):
                text += "零"
            text += _four_digits(group) + _BIG_UNITS[index]
            need_zero = False
        text += "元"
    if not cents:
        return "人民币" + (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen_digit:
        text += _DIGITS[fen_digit] + "分"
    return "人民币" + text


def money_text(fen: int) -> str:
    """¥200,000.00: `money.yuan` with thousands separators."""
    digits = yuan(fen)
    sign = "-" if digits.startswith("-") else ""
    whole, _, cents = digits.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}¥{','.join(groups)}.{cents}"


def rate_text(rate: Decimal) -> str:
    """A rate as percent with as many decimals as it has (up to 4): 4.75%."""
    text = percent_text(rate, 4).rstrip("0").rstrip(".")
    return f"{text}%"


def annualised_text(rate: Decimal) -> str:
    """The annualised rate (IRR) to two decimals, as lenders must show it: 6.12%."""
    return f"{percent_text(rate, 2)}%"


# -- wording -------------------------------------------------------------------------------
_CONDITION = {"zh": {"new": "新车", "used": "二手车"}, "en": {"new": "new", "used": "used"}}
_ENERGY = {"zh": {"fuel": "燃油", "nev": "新能源"}, "en": {"fuel": "fuel", "nev": "new energy"}}
DETAIL_LABELS = {
    "zh": {"appraised_value": "车辆评估价值", "surplus": "评估价值超出结清金额部分（退还借款人）",
           "shortfall": "结清金额超出评估价值部分（借款人仍应偿还）"},
    "en": {"appraised_value": "Appraised value of the vehicle",
           "surplus": "Appraisal above the payoff (refunded to the borrower)",
           "shortfall": "Payoff above the appraisal (still owed by the borrower)"},
}
_REASONS = {
    "zh": {"restructure": "逾期款项重组", "refinance": "尾款分期", "extend": "展期",
           "trade-in": "置换", "return-vehicle": "退还车辆"},
    "en": {"restructure": "restructure of arrears", "refinance": "balloon refinancing",
           "extend": "extension", "trade-in": "trade-in", "return-vehicle": "vehicle return"},
}


def _schedule_table(lines: Sequence[ScheduleLine], language: Language) -> Table:
    header = (
        ("期数", "还款日", "应还金额", "本金", "利息", "费用", "其中尾款", "剩余本金")
        if language is Language.ZH else
        ("No.", "Due date", "Payment", "Principal", "Interest", "Fee", "of which balloon",
         "Balance after")
    )
    rows = tuple(
        (str(line.number), line.due_date.isoformat(), yuan(line.payment_fen),
         yuan(line.principal_fen), yuan(line.interest_fen), yuan(line.fee_fen),
         yuan(line.balloon_fen) if line.balloon_fen else "-", yuan(line.balance_after_fen))
        for line in lines
    )
    total = (
        "合计" if language is Language.ZH else "Total", "",
        yuan(sum(li.payment_fen for li in lines)), yuan(sum(li.principal_fen for li in lines)),
        yuan(sum(li.interest_fen for li in lines)), yuan(sum(li.fee_fen for li in lines)),
        yuan(sum(li.balloon_fen for li in lines)), "",
    )
    return Table(header, (*rows, total))


def _party_lines(role_zh: str, role_en: str, party: PartyFacts, language: Language) -> str:
    if language is Language.ZH:
        address = f"，住址：{party.address}" if party.address else ""
        return (f"{role_zh}：{party.name}，居民身份证号码：{party.id_number}，"
                f"联系电话：{party.phone}{address}。")
    address = f", address: {party.address}" if party.address else ""
    return (f"{role_en}: {party.name}, resident ID number {party.id_number}, "
            f"telephone {party.phone}{address}.")


def _parties(lender: LenderFacts, borrower: PartyFacts, guarantor: PartyFacts | None,
             language: Language) -> Section:
    zh = language is Language.ZH
    paragraphs = [
        (f"贷款人（抵押权人）：{lender.name}，住所地：{lender.seat_name}。" if zh else
         f"Lender (mortgagee): {lender.name}, seated in {lender.seat_name}."),
        _party_lines("借款人（抵押人）", "Borrower (mortgagor)", borrower, language),
    ]
    if guarantor is not None:
        paragraphs.append(_party_lines("保证人", "Guarantor", guarantor, language))
    return Section(Clause.PARTIES, "第一条 合同当事人" if zh else "1. Parties", tuple(paragraphs))


def _penalty(multiplier: Decimal, annual_rate: Decimal, day_count_days: int, grace_days: int,
             language: Language, number: str) -> Section:
    penalty_rate = annual_rate * multiplier
    zh = language is Language.ZH
    grace = (f"还款日后{grace_days}日内（宽限期）足额还款的，不计罚息、不视为逾期；"
             if grace_days and zh else
             f"Payment in full within {grace_days} days after a due date (grace) bears no "
             "penalty and is not a default. " if grace_days else "")
    if zh:
        paragraphs = (
            f"{grace}借款人未按期足额还款的，逾期部分自逾期之日起按合同利率的"
            f"{multiplier.normalize()}倍（即年利率{rate_text(penalty_rate)}）按日计收罚息，"
            f"日利率 = 年利率 ÷ {day_count_days}，直至清偿之日止。",
            "还款日遇法定节假日的，按贷款人公布的规则顺延至下一个工作日，顺延期间不计罚息。",
            "借款人有下列情形之一的构成违约：逾期还款连续三期或累计六期；擅自转让、出租、质押或"
            "以其他方式处分抵押车辆；拆除、损坏或屏蔽车载定位装置；提供虚假资料。"
            "借款人违约的，贷款人有权宣布全部借款提前到期，要求借款人立即清偿全部本金、利息、"
            "罚息及贷款人为实现债权而支出的合理费用（包括诉讼费、仲裁费、保全费、律师费、"
            "车辆评估及处置费用），并依法实现抵押权。",
        )
    else:
        paragraphs = (
            f"{grace}An amount not paid when due bears penalty interest (罚息) from the day it "
            f"is overdue until paid, at {multiplier.normalize()} times the contract rate "
            f"(an annual {rate_text(penalty_rate)}), daily rate = annual rate / "
            f"{day_count_days}.",
            "A due date falling on a statutory holiday moves to the next working day under the "
            "lender's published rule, without penalty for the days moved.",
            "Events of default: three consecutive or six cumulative missed instalments; selling, "
            "leasing, pledging or otherwise disposing of the vehicle without consent; removing, "
            "damaging or shielding the tracking device; false information. On default the "
            "lender may accelerate the loan and claim all principal, interest, penalty interest "
            "and its reasonable costs of enforcement (court or arbitration fees, preservation, "
            "lawyers, appraisal and disposal of the vehicle), and enforce the mortgage.",
        )
    return Section(Clause.PENALTY_AND_DEFAULT,
                   f"第{number}条 罚息与违约责任" if zh
                   else f"{number}. Penalty interest and default",
                   paragraphs)


def _dispute(forum: Forum, cross_region: bool, language: Language, number: str) -> Section:
    zh = language is Language.ZH
    if zh:
        why = ("鉴于借款人的户籍地或经常居住地与贷款人住所地不在同一城市（异地），双方明确约定："
               if cross_region else "双方约定：")
        if forum.kind is ForumKind.ARBITRATION:
            body = (f"{why}因本合同引起的或与本合同有关的任何争议，双方协商解决；"
                    f"协商不成的，任何一方均应提交{forum.name}，按照申请仲裁时该会现行有效的仲裁规则进行仲裁。"
                    "仲裁裁决是终局的，对双方均有约束力。")
        else:
            body = (f"{why}因本合同引起的或与本合同有关的任何争议，双方协商解决；"
                    f"协商不成的，任何一方均可向{forum.name}提起诉讼。")
        paragraphs: tuple[str, ...] = (
            body,
            "本条约定不影响贷款人依法向抵押车辆所在地或抵押登记地人民法院申请实现担保物权。",
        )
        heading = f"第{number}条 争议解决"
    else:
        why = ("As the borrower's household registration or residence is in another city than "
               "the lender's seat (cross-region), the parties expressly agree that "
               if cross_region else "The parties agree that ")
        if forum.kind is ForumKind.ARBITRATION:
            body = (f"{why}any dispute arising from or in connection with this contract that "
                    f"is not settled by negotiation shall be submitted to {forum.name} for "
                    "arbitration under its rules in force when arbitration is applied for. "
                    "The award is final and binding on both parties.")
        else:
            body = (f"{why}any dispute arising from or in connection with this contract that "
                    f"is not settled by negotiation shall be brought before {forum.name}.")
        paragraphs = (
            body,
            "This clause does not prevent the lender from applying to the people's court where "
            "the vehicle is, or where the mortgage is registered, to enforce the security.",
        )
        heading = f"{number}. Dispute resolution"
    return Section(Clause.DISPUTE_RESOLUTION, heading, paragraphs)


def _signatures(facts_lender: LenderFacts, guarantor: bool, language: Language,
                number: str, signing_date: date) -> Section:
    zh = language is Language.ZH
    lines = (
        [f"贷款人（盖章）：{facts_lender.name}", "借款人（签字）：", ]
        + (["保证人（签字）："] if guarantor else [])
        + [f"签订日期：{signing_date.isoformat()}"]
        if zh else
        [f"Lender (seal): {facts_lender.name}", "Borrower (signature):"]
        + (["Guarantor (signature):"] if guarantor else [])
        + [f"Date: {signing_date.isoformat()}"]
    )
    return Section(Clause.SIGNATURES, f"第{number}条 签署" if zh else f"{number}. Signatures",
                   tuple(lines))


def build_contract(facts: ContractFacts, language: Language = Language.ZH) -> ContractDocument:
    """The loan and vehicle-mortgage contract of a booked loan (document version 1)."""
    zh = language is Language.ZH
    v = facts.vehicle
    balloon = facts.balloon_fen
    balloon_date = facts.balloon_due_date
    maturity_date = facts.schedule[-1].due_date
    m = facts.maturity
    sections: list[Section] = [_parties(facts.lender, facts.borrower, facts.guarantor, language)]
    sections.append(Section(
        Clause.VEHICLE, "第二条 抵押车辆" if zh else "2. The vehicle",
        ((f"车辆识别代号（VIN）：{v.vin}；{_CONDITION['zh'][v.condition]}，"
          f"{_ENERGY['zh'][v.energy]}；车辆价格：{money_text(v.price_fen)}；"
          f"销售经销商：{facts.dealer_name}。",) if zh else
         (f"Vehicle identification number (VIN) {v.vin}; {_CONDITION['en'][v.condition]}, "
          f"{_ENERGY['en'][v.energy]}; price {money_text(v.price_fen)}; sold by "
          f"{facts.dealer_name}.",)),
    ))
    fees = facts.financed_fees_fen + facts.upfront_fees_fen
    sections.append(Section(
        Clause.AMOUNT_AND_RATES, "第三条 借款金额与利率" if zh else "3. Amount and rates",
        ((f"借款金额：{money_text(facts.principal_fen)}（{capital_yuan(facts.principal_fen)}），"
          f"其中计入借款的费用{money_text(facts.financed_fees_fen)}；借款期限{facts.term_months}"
          f"个月；产品：{facts.product_name}。",
          f"合同利率（年化单利）：{rate_text(facts.annual_rate)}；"
          f"年化利率（IRR，按借款人实际获得的资金和全部应付款项计算，已含费用"
          f"{money_text(fees)}）：{annualised_text(facts.annualised_rate)}。",
          f"放款日：{facts.signing_date.isoformat()}；利息按日计算，日利率 = 年利率 ÷ "
          f"{facts.day_count_days}。") if zh else
         (f"Amount: {money_text(facts.principal_fen)} ({capital_yuan(facts.principal_fen)}), "
          f"including fees financed of {money_text(facts.financed_fees_fen)}; term "
          f"{facts.term_months} months; product: {facts.product_name}.",
          f"Contract rate (simple annual): {rate_text(facts.annual_rate)}; annualised rate "
          f"(IRR, on the money the borrower actually receives against every payment, fees of "
          f"{money_text(fees)} included): {annualised_text(facts.annualised_rate)}.",
          f"Disbursement: {facts.signing_date.isoformat()}; interest accrues daily at the "
          f"annual rate / {facts.day_count_days}.")),
    ))
    sections.append(Section(
        Clause.SCHEDULE, "第四条 还款计划" if zh else "4. Repayment schedule",
        (("借款人应按下表于每期还款日足额还款（金额单位：元）：",) if zh else
         ("The borrower pays each instalment in full on its due date (amounts in yuan):",)),
        _schedule_table(facts.schedule, language),
    ))
    if balloon and balloon_date is not None:
        balloon_text = (
            (f"本合同约定尾款（弹性尾款）{money_text(balloon)}（{capital_yuan(balloon)}），"
             f"于{balloon_date.isoformat()}与最后一期一并到期。尾款到期未还且未按第六条选择其他"
             "方式的，尾款自到期次日起逾期并计收罚息。",) if zh else
            (f"The balloon (尾款) of {money_text(balloon)} ({capital_yuan(balloon)}) falls due "
             f"on {balloon_date.isoformat()} with the last instalment. A balloon neither paid "
             "nor replaced by an option of clause 6 is overdue from the next day and bears "
             "penalty interest.",)
        )
    else:
        balloon_text = (("本合同不设尾款，最后一期于" + maturity_date.isoformat() + "到期。",)
                        if zh else
                        (f"This loan has no balloon; the last instalment falls due on "
                         f"{maturity_date.isoformat()}.",))
    sections.append(Section(Clause.BALLOON, "第五条 尾款" if zh else "5. The balloon",
                            balloon_text))
    options_zh = [
        "（一）一次性结清：于到期日前足额支付尾款及应付利息；",
        f"（二）尾款分期：经贷款人审批，将尾款转为{m.refinance_months_min}至"
        f"{m.refinance_months_max}期的分期，利率以届时约定为准；",
        f"（三）展期：经贷款人审批，累计展期不超过{m.extension_cap_months}个月"
        "（依《贷款通则》第十二条及车贷期限上限，含展期计算）"
        + ("，并须取得保证人的书面同意；" if m.has_guarantor else "；"),
        "（四）置换：以车辆评估价值抵偿结清金额，差额多退少补；",
        "（五）退还车辆：" + ("按评估价值抵偿结清金额，差额多退少补。" if m.vehicle_return_allowed
                          else "本产品不适用。"),
    ]
    options_en = [
        "(a) settle: pay the balloon and interest due in full by the due date;",
        f"(b) refinance the balloon (尾款分期) into {m.refinance_months_min} to "
        f"{m.refinance_months_max} instalments, subject to approval, at the rate then agreed;",
        f"(c) extend (展期), subject to approval, by at most {m.extension_cap_months} months in "
        "total (Lending General Rules Art. 12 and the maximum auto-loan term, extensions "
        "included)" + (", with the guarantor's written consent;" if m.has_guarantor else ";"),
        "(d) trade in: the vehicle's appraised value is applied to the payoff; any surplus is "
        "refunded and any shortfall remains owed;",
        "(e) return the vehicle: " + ("its appraised value is applied to the payoff, surplus "
                                      "refunded, shortfall owed." if m.vehicle_return_allowed
                                      else "not available under this product."),
    ]
    sections.append(Section(
        Clause.MATURITY_OPTIONS, "第六条 尾款到期时的选择" if zh else "6. Options at maturity",
        tuple(options_zh if zh else options_en),
    ))
    sections.append(_penalty(facts.penalty_multiplier, facts.annual_rate, facts.day_count_days,
                             facts.grace_days, language, "七" if zh else "7"))
    sections.append(Section(
        Clause.MORTGAGE, "第八条 车辆抵押登记" if zh else "8. Mortgage registration",
        ((f"借款人以本合同车辆为全部债务提供抵押担保，并应于放款后十个工作日内在"
          f"{v.registration_office}（{v.registration_region_name}）办理抵押登记；"
          "全部债务清偿后，在同一车辆管理所办理解除抵押登记。未经登记的抵押权不得对抗善意第三人"
          "（《民法典》第四百零三条）。",) if zh else
         (f"The borrower mortgages the vehicle for all debts under this contract and shall "
          f"register the mortgage with {v.registration_office} ({v.registration_region_name}) "
          "within ten working days of disbursement; the mortgage is released at the same "
          "vehicle office once all debts are paid. An unregistered mortgage cannot be asserted "
          "against a good-faith third party (Civil Code Art. 403).",)),
    ))
    sections.append(_dispute(facts.forum, facts.cross_region, language, "九" if zh else "9"))
    sections.append(Section(
        Clause.PERSONAL_INFORMATION,
        "第十条 个人信息处理同意" if zh
        else "10. Consent to the processing of personal information",
        (("借款人同意贷款人为订立和履行本合同、风险管理、贷后管理及依法报送征信的目的，处理其姓名、"
          "身份证件号码、联系方式、住址、银行账户、车辆及还款信息；敏感个人信息以加密方式存储，"
          "工作人员查看完整信息须说明理由并留痕。上述信息保存至合同终止后五年，法律另有规定的除外。"
          "借款人可依《个人信息保护法》查阅、复制、更正其个人信息。",
          "借款人（签字）：＿＿＿＿＿＿") if zh else
         ("The borrower consents to the lender processing their name, ID number, contact "
          "details, address, bank account, vehicle and repayment data to make and perform this "
          "contract, manage risk and service the loan, and to report to the credit reference "
          "system as the law requires. Sensitive data is stored encrypted; staff who view it "
          "in full must state why, and the view is recorded. Data is kept for five years after "
          "the contract ends unless the law says otherwise. The borrower may access, copy and "
          "correct it under the Personal Information Protection Law.",
          "Borrower (signature): ______")),
    ))
    device = ("本车" + ("已" if facts.gps_device else "可能") + "安装车载定位装置（GPS）。") if zh \
        else ("The vehicle " + ("is" if facts.gps_device else "may be")
              + " fitted with a tracking device (GPS). ")
    sections.append(Section(
        Clause.GPS_CONSENT,
        "第十一条 车辆定位信息单独同意" if zh else "11. Separate consent to vehicle tracking",
        ((device + "车辆行踪轨迹属于敏感个人信息，贷款人仅为抵押物管理及违约后追索的目的处理，"
          "访问受权限控制并留痕。本同意独立于第十条，借款人可随时书面撤回；撤回不影响撤回前的处理，"
          "也不构成违约，但贷款人可依约要求借款人提供其他担保。",
          "□ 同意　□ 不同意　　借款人（单独签字）：＿＿＿＿＿＿") if zh else
         (device + "Vehicle location tracks are sensitive personal information; the lender "
          "processes them only to manage the collateral and to recover it after a default, "
          "with access controlled and recorded. This consent is separate from clause 10 and may "
          "be withdrawn in writing at any time; withdrawal does not affect earlier processing "
          "and is not a default, but the lender may ask for other security as agreed.",
          "[ ] I agree  [ ] I do not agree    Borrower (separate signature): ______")),
    ))
    sections.append(_signatures(facts.lender, facts.guarantor is not None, language,
                                "十二" if zh else "12", facts.signing_date))
    return ContractDocument(
        loan_id=facts.loan_id, kind=DocumentKind.CONTRACT, version=1, language=language,
        title="汽车消费贷款借款及抵押合同" if zh else "Auto Loan and Vehicle Mortgage Contract",
        subtitle=(f"合同编号：{document_id(facts.loan_id, DocumentKind.CONTRACT, 1)}" if zh else
                  f"Contract no. {document_id(facts.loan_id, DocumentKind.CONTRACT, 1)}"),
        sections=tuple(sections),
        template=f"loan-contract/{language.value}/{TEMPLATE_VERSION}",
    )


def build_addendum(facts: AddendumFacts, language: Language = Language.ZH) -> ContractDocument:
    """A supplementary agreement (补充协议) for a change of schedule."""
    assert facts.version >= 2, "version 1 is the contract"
    zh = language is Language.ZH
    reason = _REASONS[language.value].get(facts.reason, facts.reason)
    lines = facts.outstanding_schedule
    new_balloon = sum(li.balloon_fen for li in lines)
    change: list[str] = []
    if zh:
        change.append(f"双方同意就原合同（编号{facts.base_document_id}）办理{reason}，"
                      f"自{facts.signing_date.isoformat()}起生效。")
        change.append(f"变更前尾款：{money_text(facts.previous_balloon_fen)}；变更后尾款："
                      f"{money_text(new_balloon)}；合同利率：{rate_text(facts.annual_rate)}。")
        change.append(f"累计展期：{facts.extended_months_total}个月（上限"
                      f"{facts.extension_cap_months}个月）。")
        change.extend(f"{DETAIL_LABELS['zh'].get(key, key)}：{money_text(value)}"
                      for key, value in facts.detail)
    else:
        change.append(f"The parties agree to a {reason} of the contract "
                      f"{facts.base_document_id}, effective {facts.signing_date.isoformat()}.")
        change.append(f"Balloon before: {money_text(facts.previous_balloon_fen)}; balloon "
                      f"after: {money_text(new_balloon)}; contract rate "
                      f"{rate_text(facts.annual_rate)}.")
        change.append(f"Extension so far: {facts.extended_months_total} months (cap "
                      f"{facts.extension_cap_months} months).")
        change.extend(f"{DETAIL_LABELS['en'].get(key, key)}: {money_text(value)}"
                      for key, value in facts.detail)
    sections = [
        _parties(facts.lender, facts.borrower, facts.guarantor, language),
        Section(Clause.CHANGE, "第二条 变更内容" if zh else "2. The change", tuple(change)),
        Section(Clause.NEW_SCHEDULE, "第三条 变更后还款计划" if zh else "3. New schedule",
                (("尚未到期及未结清的各期按下表还款（金额单位：元）：",) if zh else
                 ("The instalments not yet settled are due as follows (amounts in yuan):",)),
                _schedule_table(lines, language)),
        _penalty(facts.penalty_multiplier, facts.annual_rate, facts.day_count_days, 0,
                 language, "四" if zh else "4"),
        _dispute(facts.forum, False, language, "五" if zh else "5"),
        Section(Clause.CONTINUITY, "第六条 其他" if zh else "6. Other terms",
                (("本补充协议是原合同不可分割的组成部分；本协议未变更的，仍按原合同执行，原抵押担保继续有效。",)
                 if zh else
                 ("This addendum forms part of the original contract; everything it does not "
                  "change stays as agreed there, and the mortgage continues to secure the "
                  "debt.",))),
        _signatures(facts.lender, facts.guarantor is not None, language, "七" if zh else "7",
                    facts.signing_date),
    ]
    addendum_id = document_id(facts.loan_id, DocumentKind.ADDENDUM, facts.version)
    return ContractDocument(
        loan_id=facts.loan_id, kind=DocumentKind.ADDENDUM, version=facts.version,
        language=language,
        title="补充协议" if zh else "Addendum",
        subtitle=(f"协议编号：{addendum_id}" if zh else f"Addendum no. {addendum_id}"),
        sections=tuple(sections),
        template=f"addendum/{language.value}/{TEMPLATE_VERSION}",
    )
