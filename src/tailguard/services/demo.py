"""A demo portfolio a risk manager would recognise, booked through the real services.

A few hundred balloon and instalment loans from dealers in several provinces, many borrowers
registered (by ID) or living in another province than their dealer (异地), disbursed over the
last three and a half years so every stage is present: new loans, loans paying on time, late
payers, loans in M1–M6+, settled loans, and balloons falling due in the coming months. Payment
histories are imported through `servicing.import_history`, so the books, the state cache and the
ledger are exactly what the services would have produced. The portfolio simulator (issue 5)
will replace this generator with calibrated behaviour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from stdnum.cn import ric

from tailguard.calendar import add_months
from tailguard.infra.db import tables
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.services import servicing
from tailguard.services.booking import (
    LoanApplication,
    PartyIn,
    VehicleIn,
    book_application,
    ensure_dealer,
)
from tailguard.services.platform import Platform

DEALERS = (
    ("D-SZ", "深圳鹏城汽车销售服务有限公司", "440300"),
    ("D-CD", "成都天府汽车销售服务有限公司", "510100"),
    ("D-ZZ", "郑州中原汽车销售服务有限公司", "410100"),
    ("D-WLMQ", "乌鲁木齐天山汽车销售服务有限公司", "650100"),
    ("D-HZ", "杭州西湖汽车销售服务有限公司", "330100"),
)
HOME_COUNTIES = {  # ID registration places: mostly local, some far away (异地)
    "440300": ("440305", "440304", "440306"),
    "510100": ("510104", "510107", "510112"),
    "410100": ("410102", "410105", "410122"),
    "650100": ("650102", "650104", "650105"),
    "330100": ("330106", "330108", "330110"),
}
MIGRANT_COUNTIES = ("411523", "430524", "360722", "622421", "532128", "450127")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
WMIS = ("LSV", "LFV", "LGB", "LVS", "LBV", "LHG", "LGX")  # VW, FAW-VW, Dongfeng Nissan, …


def resident_id(rng: random.Random, county: str, start: date) -> str:
    birth = date(start.year - rng.randint(24, 50), rng.randint(1, 12), rng.randint(1, 28))
    body = f"{county}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + ric.calc_check_digit(body + "0")


def vehicle_vin(rng: random.Random, serial: int) -> str:
    body = f"{rng.choice(WMIS)}{rng.choice('ABCDEF')}{rng.randint(1000, 9999)}0SA{serial:06d}"
    total = sum(VIN_VALUES[c] * w for c, w in zip(body, VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


@dataclass(frozen=True)
class DemoReport:
    loans: int
    payments: int
    skipped: bool


BEHAVIOURS = (
    ("on-time", 0.62), ("late", 0.17), ("stopped", 0.11), ("settled", 0.05), ("overpay", 0.05),
)


def _history(rng: random.Random, account: LoanAccount, behaviour: str,
             today: date) -> list[PaymentReceived]:
    payments: list[PaymentReceived] = []
    due = [i for i in account.schedule.installments if i.due_date < today]
    stop_after = rng.randint(3, max(3, len(due))) if behaviour == "stopped" else None
    for inst in due:
        if stop_after is not None and inst.number > stop_after:
            break
        day = inst.due_date
        amount = inst.payment_fen
        if behaviour == "late" and rng.random() < 0.35:
            day = inst.due_date + timedelta(days=rng.randint(3, 40))
            amount = inst.payment_fen + inst.payment_fen // 100  # enough for the penalty
        if behaviour == "overpay" and rng.random() < 0.3:
            amount = inst.payment_fen + rng.randint(1, 50) * 100_00
        if day >= today:
            continue
        payments.append(PaymentReceived(f"{account.loan_id}-p{inst.number}", day, amount,
                                        Channel.AUTO_DEBIT))
    return payments


def build_demo(platform: Platform, loans: int = 300, seed: int = 2026) -> DemoReport:
    """Book `loans` demo loans (idempotent: does nothing when loans exist)."""
    with platform.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(tables.loans)).scalar_one():
            return DemoReport(0, 0, True)
    rng = random.Random(seed)
    today = platform.today()
    for dealer_id, name, region in DEALERS:
        ensure_dealer(platform, dealer_id, name, region)
    products = (("auto-balloon", 0.55), ("auto-balloon-choose-later", 0.15),
                ("auto-equal-installment", 0.25), ("auto-equal-principal", 0.05))
    payments = 0
    for k in range(loans):
        dealer_id, _, city = rng.choice(DEALERS)
        product = rng.choices([p for p, _ in products], [w for _, w in products])[0]
        balloon_loan = product.startswith("auto-balloon")
        term = rng.choice((24, 36, 36, 48)) if balloon_loan else rng.choice((12, 24, 36))
        months_ago = rng.randint(0, min(term + 2, 42))
        start = add_months(today, -months_ago)
        if start >= today:
            start = today - timedelta(days=rng.randint(1, 20))
        migrant = rng.random() < 0.3
        county = rng.choice(MIGRANT_COUNTIES if migrant else HOME_COUNTIES[city])
        price_fen = rng.randint(12, 45) * 10_000_00
        down = Decimal(rng.choice(("0.2", "0.3", "0.4")))
        principal = int(price_fen * (1 - down)) // 100 * 100
        application = LoanApplication(
            borrower=PartyIn(
                name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                id_number=resident_id(rng, county, start),
                phone=f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                address=f"{'外省' if migrant else '本地'}某小区{rng.randint(1, 30)}栋",
                residence_region_code=rng.choice(HOME_COUNTIES[city]),
                employer=rng.choice(("制造业", "物流", "个体经营", "互联网", "建筑", "零售")),
            ),
            vehicle=VehicleIn(vin=vehicle_vin(rng, k + 1), condition="new",
                              energy=rng.choice(("fuel", "nev")), price_fen=price_fen,
                              registration_office=f"{city}车管所",
                              registration_region_code=city),
            product_code=product,
            principal_fen=principal,
            annual_rate=Decimal(rng.choice(("0.0299", "0.0399", "0.0475", "0.0599", "0.0799"))),
            term_months=term,
            disbursement_date=start,
            dealer_id=dealer_id,
            balloon_share=Decimal(rng.choice(("0.2", "0.3", "0.4"))) if balloon_loan else None,
            region_code=city,
            loan_id=f"DEMO{k + 1:05d}",
        )
        loan_id = book_application(platform, "demo", application)
        behaviour = rng.choices([b for b, _ in BEHAVIOURS], [w for _, w in BEHAVIOURS])[0]
        account = servicing.load_account(platform, loan_id)
        history = _history(rng, account, behaviour, today)
        if history:
            servicing.import_history(platform, "demo", loan_id, history)
            payments += len(history)
        if behaviour == "settled" and months_ago >= 6 and today < account.schedule.maturity_date:
            quote = servicing.payoff_quote(platform, loan_id)
            if quote.total_fen:
                servicing.settle_loan(platform, "demo", loan_id, quote.total_fen, Channel.APP,
                                      f"{loan_id}-settle")
                payments += 1
    return DemoReport(loans, payments, False)
