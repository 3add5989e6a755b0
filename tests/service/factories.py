"""Valid applications for service tests: ID numbers and VINs with correct check digits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from stdnum.cn import ric

from tailguard.services.booking import LoanApplication, PartyIn, VehicleIn, ensure_dealer
from tailguard.services.platform import Platform

VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def resident_id(region: str = "110105", birth: str = "19850315", sequence: int = 123) -> str:
    """An ID number whose check digit (ISO 7064 MOD 11-2) is computed by python-stdnum."""
    body = f"{region}{birth}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum drops the last character


def vin(serial: int) -> str:
    """A VIN (LSV… Shanghai Volkswagen, model year S = 2025, plant A) with its position-9
    check digit computed."""
    body = f"LSVAU2180SA{serial:06d}"
    total = sum(VIN_VALUES[c] * w for c, w in zip(body, VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def application(
    serial: int = 1,
    *,
    product: str = "auto-balloon",
    principal_fen: int = 200_000_00,
    rate: str = "0.0475",
    term: int = 36,
    start: date = date(2026, 1, 10),
    balloon: str | None = "0.3",
    borrower_region: str = "110105",
    residence: str | None = "440305",
    loan_id: str | None = None,
) -> LoanApplication:
    return LoanApplication(
        borrower=PartyIn(
            name="张三", id_number=resident_id(borrower_region, sequence=serial % 1000),
            phone="13800138000", address="广东省深圳市南山区科技园",
            bank_card="6222020200112233446",
            residence_region_code=residence, employer="深圳某科技有限公司",
        ),
        vehicle=VehicleIn(vin=vin(serial), condition="new", energy="nev", price_fen=250_000_00,
                          registration_office="深圳市车管所", registration_region_code="440300"),
        product_code=product,
        principal_fen=principal_fen,
        annual_rate=Decimal(rate),
        term_months=term,
        disbursement_date=start,
        dealer_id="D-SZ-1",
        balloon_share=Decimal(balloon) if balloon is not None else None,
        region_code="440300",
        loan_id=loan_id or f"L{serial:05d}",
    )


def with_dealer(platform: Platform) -> None:
    ensure_dealer(platform, "D-SZ-1", "深圳某汽车销售服务有限公司", "440300")
