"""Loan products: versioned, configurable terms and the limits each product states for itself.

A product is data, not code: the same schedule, accrual and waterfall rules serve every
product, and a product only chooses among named conventions. Limits follow
`shared/reference/china-auto-finance.md`: balloons of 0–50 % of the financed amount, balloon
refinancing into 6–36 instalments, extensions capped at half the original term and at a
5-year (new car) or 3-year (used car) total, the strict reading (extensions included) by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from tailguard.money import DayCount, RoundingMode


class RepaymentMethod(Enum):
    """How principal is repaid over the term."""

    EQUAL_INSTALLMENT = "equal-installment"
    """等额本息: equal monthly payments of principal and interest."""
    EQUAL_PRINCIPAL = "equal-principal"
    """等额本金: equal principal each month, interest on the declining balance."""
    BALLOON = "balloon"
    """弹性尾款: equal monthly payments with a final balloon left unamortised."""
    INTEREST_ONLY = "interest-only"
    """先息后本: interest each month, all principal with the last payment."""


class HolidayRule(Enum):
    """What a non-working due date means for the borrower."""

    NONE = "none"
    """The due date stands and the auto-debit runs; late is late."""
    GRACE_TO_NEXT_WORKING_DAY = "grace-to-next-working-day"
    """No penalty and no delinquency if paid by the next working day after a holiday."""


class ResidualTo(Enum):
    """Which instalment takes the fen left over when principal is split into equal parts."""

    LAST = "last"
    FIRST = "first"


class WaterfallOrder(Enum):
    """How a payment is shared among what is due."""

    OLDEST_FIRST = "oldest-first"
    """Oldest instalment first; within it penalty, fee, interest, then principal."""
    BY_COMPONENT = "by-component"
    """All penalty (oldest first), then all fees, then all interest, then all principal."""


class PrepaymentMode(Enum):
    """What a partial prepayment changes."""

    SHORTEN_TERM = "shorten-term"
    """Keep the instalment (about) the same and finish earlier."""
    REDUCE_INSTALLMENT = "reduce-installment"
    """Keep the term and lower the instalment."""
    REDUCE_BALLOON = "reduce-balloon"
    """Keep term and instalment; the balloon shrinks (balloon products only)."""


class FeeKind(Enum):
    SERVICE = "service"
    GPS_DEVICE = "gps-device"
    INSURANCE = "insurance"


@dataclass(frozen=True)
class Fee:
    """A fee charged at booking: financed (added to principal) or paid up front."""

    kind: FeeKind
    amount_fen: int
    financed: bool


@dataclass(frozen=True)
class PrepaymentFeeTier:
    """A fee on prepaid principal while the loan is younger than `before_month` months."""

    before_month: int
    rate: Decimal


@dataclass(frozen=True)
class Bucket:
    """A delinquency bucket: `label` for days past due from `dpd_min` to `dpd_max` inclusive."""

    label: str
    dpd_min: int
    dpd_max: int | None


DEFAULT_BUCKETS: tuple[Bucket, ...] = (
    Bucket("C", 0, 0),
    Bucket("M1", 1, 30),
    Bucket("M2", 31, 60),
    Bucket("M3", 61, 90),
    Bucket("M4", 91, 120),
    Bucket("M5", 121, 150),
    Bucket("M6+", 151, None),
)


@dataclass(frozen=True)
class ProductLimits:
    """What a loan of this product may be; a request outside them is refused by field."""

    term_months_min: int = 1
    term_months_max: int = 360
    balloon_share_max: Decimal = Decimal("0.5")
    annual_rate_min: Decimal = Decimal("0")
    annual_rate_max: Decimal = Decimal("0.36")
    principal_fen_min: int = 1
    principal_fen_max: int = 10**12


@dataclass(frozen=True)
class MaturityPolicy:
    """The balloon options a product allows and their caps."""

    refinance_term_months_min: int = 6
    refinance_term_months_max: int = 36
    allows_vehicle_return: bool = False
    """先享后选 products let the borrower hand the car back at maturity."""
    extension_share_of_term_max: Decimal = Decimal("0.5")
    """贷款通则 Art. 12: cumulative extension at most half the original term (1–5 year loans)."""
    total_term_months_max_new: int = 60
    total_term_months_max_used: int = 36
    caps_include_extensions: bool = True
    """Strict reading: the 5-year / 3-year caps count extensions too (含展期)."""
    waive_prepayment_fee_on_trade_in: bool = True


@dataclass(frozen=True)
class Product:
    """A versioned loan product. A new version is a new value; old loans keep theirs."""

    code: str
    version: int
    name: str
    method: RepaymentMethod
    limits: ProductLimits = field(default_factory=ProductLimits)
    day_count: DayCount = DayCount.ACT_360
    penalty_multiplier: Decimal = Decimal("1.5")
    """罚息: overdue principal accrues at the contract rate times this."""
    compound_overdue_interest: bool = False
    """复利: overdue interest accrues penalty interest too."""
    grace_days: int = 0
    holiday_rule: HolidayRule = HolidayRule.GRACE_TO_NEXT_WORKING_DAY
    rounding: RoundingMode = RoundingMode.HALF_UP
    residual_to: ResidualTo = ResidualTo.LAST
    waterfall: WaterfallOrder = WaterfallOrder.OLDEST_FIRST
    prepayment_fee_tiers: tuple[PrepaymentFeeTier, ...] = ()
    fees: tuple[Fee, ...] = ()
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
    maturity: MaturityPolicy = field(default_factory=MaturityPolicy)

    def __post_init__(self) -> None:
        assert self.version >= 1, "product versions start at 1"
        assert self.grace_days >= 0, "grace days cannot be negative"
        assert self.penalty_multiplier >= 0, "penalty multiplier cannot be negative"
        if self.method is not RepaymentMethod.BALLOON:
            assert self.limits.balloon_share_max >= 0
        for lower, upper in zip(self.buckets, self.buckets[1:], strict=False):
            assert lower.dpd_max is not None and upper.dpd_min == lower.dpd_max + 1, (
                "buckets must be contiguous"
            )

    @property
    def key(self) -> str:
        return f"{self.code}@v{self.version}"

    def prepayment_fee_rate(self, loan_age_months: int) -> Decimal:
        """The fee rate on prepaid principal for a loan of this age (0 when no tier applies)."""
        for tier in sorted(self.prepayment_fee_tiers, key=lambda t: t.before_month):
            if loan_age_months < tier.before_month:
                return tier.rate
        return Decimal(0)


def calculator_product(method: RepaymentMethod) -> Product:
    """A permissive product for the schedule calculator: terms 1–360, rates 0–36 %."""
    return Product(
        code=f"calculator-{method.value}",
        version=1,
        name="calculator",
        method=method,
        limits=ProductLimits(
            balloon_share_max=Decimal("0.5") if method is RepaymentMethod.BALLOON else Decimal(0)
        ),
        holiday_rule=HolidayRule.NONE,
    )


def standard_catalogue() -> tuple[Product, ...]:
    """Products a Chinese auto lender typically offers, as a starting catalogue."""
    tiers = (
        PrepaymentFeeTier(before_month=12, rate=Decimal("0.03")),
        PrepaymentFeeTier(before_month=24, rate=Decimal("0.02")),
    )
    fees = (
        Fee(FeeKind.SERVICE, 200_000, financed=False),
        Fee(FeeKind.GPS_DEVICE, 150_000, financed=True),
    )
    auto_limits = ProductLimits(
        term_months_min=12,
        term_months_max=60,
        balloon_share_max=Decimal("0.5"),
        annual_rate_min=Decimal("0"),
        annual_rate_max=Decimal("0.24"),
        principal_fen_min=1_000_000,
        principal_fen_max=200_000_000,
    )
    return (
        Product(
            "auto-balloon", 1, "弹性尾款 auto loan", RepaymentMethod.BALLOON,
            limits=auto_limits, prepayment_fee_tiers=tiers, fees=fees,
        ),
        Product(
            "auto-balloon-choose-later", 1, "先享后选 use first, choose later",
            RepaymentMethod.BALLOON, limits=auto_limits, prepayment_fee_tiers=tiers,
            fees=fees, maturity=MaturityPolicy(allows_vehicle_return=True),
        ),
        Product(
            "auto-equal-installment", 1, "等额本息 auto loan", RepaymentMethod.EQUAL_INSTALLMENT,
            limits=ProductLimits(
                term_months_min=12, term_months_max=60, balloon_share_max=Decimal(0),
                annual_rate_max=Decimal("0.24"), principal_fen_min=1_000_000,
                principal_fen_max=200_000_000,
            ),
            prepayment_fee_tiers=tiers, fees=fees,
        ),
        Product(
            "auto-equal-principal", 1, "等额本金 auto loan", RepaymentMethod.EQUAL_PRINCIPAL,
            limits=ProductLimits(
                term_months_min=12, term_months_max=60, balloon_share_max=Decimal(0),
                annual_rate_max=Decimal("0.24"), principal_fen_min=1_000_000,
                principal_fen_max=200_000_000,
            ),
        ),
        Product(
            "auto-interest-only", 1, "先息后本 auto loan", RepaymentMethod.INTEREST_ONLY,
            limits=ProductLimits(
                term_months_min=3, term_months_max=24, balloon_share_max=Decimal(0),
                annual_rate_max=Decimal("0.24"), principal_fen_min=1_000_000,
                principal_fen_max=200_000_000,
            ),
        ),
    )
