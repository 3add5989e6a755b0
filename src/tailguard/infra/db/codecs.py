"""Turning domain values into stored JSON and back: products and schedule rows.

Products are versioned data; storing the whole value as JSON (Decimals as text, enums by
value) keeps every version exactly as it was when a loan was booked under it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tailguard.loans.products import (
    Bucket,
    Fee,
    FeeKind,
    HolidayRule,
    MaturityPolicy,
    PrepaymentFeeTier,
    Product,
    ProductLimits,
    RepaymentMethod,
    ResidualTo,
    WaterfallOrder,
)
from tailguard.money import DayCount, RoundingMode


def _dec(value: Decimal) -> str:
    return str(value)


def product_to_json(product: Product) -> str:
    limits = product.limits
    maturity = product.maturity
    data: dict[str, Any] = {
        "code": product.code,
        "version": product.version,
        "name": product.name,
        "method": product.method.value,
        "limits": {
            "term_months_min": limits.term_months_min,
            "term_months_max": limits.term_months_max,
            "balloon_share_max": _dec(limits.balloon_share_max),
            "annual_rate_min": _dec(limits.annual_rate_min),
            "annual_rate_max": _dec(limits.annual_rate_max),
            "principal_fen_min": limits.principal_fen_min,
            "principal_fen_max": limits.principal_fen_max,
        },
        "day_count": product.day_count.value,
        "penalty_multiplier": _dec(product.penalty_multiplier),
        "compound_overdue_interest": product.compound_overdue_interest,
        "grace_days": product.grace_days,
        "holiday_rule": product.holiday_rule.value,
        "rounding": product.rounding.value,
        "residual_to": product.residual_to.value,
        "waterfall": product.waterfall.value,
        "prepayment_fee_tiers": [
            {"before_month": t.before_month, "rate": _dec(t.rate)}
            for t in product.prepayment_fee_tiers
        ],
        "fees": [
            {"kind": f.kind.value, "amount_fen": f.amount_fen, "financed": f.financed}
            for f in product.fees
        ],
        "buckets": [[b.label, b.dpd_min, b.dpd_max] for b in product.buckets],
        "maturity": {
            "refinance_term_months_min": maturity.refinance_term_months_min,
            "refinance_term_months_max": maturity.refinance_term_months_max,
            "allows_vehicle_return": maturity.allows_vehicle_return,
            "extension_share_of_term_max": _dec(maturity.extension_share_of_term_max),
            "total_term_months_max_new": maturity.total_term_months_max_new,
            "total_term_months_max_used": maturity.total_term_months_max_used,
            "caps_include_extensions": maturity.caps_include_extensions,
            "waive_prepayment_fee_on_trade_in": maturity.waive_prepayment_fee_on_trade_in,
        },
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def product_from_json(text: str) -> Product:
    data = json.loads(text)
    limits = data["limits"]
    maturity = data["maturity"]
    return Product(
        code=data["code"],
        version=data["version"],
        name=data["name"],
        method=RepaymentMethod(data["method"]),
        limits=ProductLimits(
            term_months_min=limits["term_months_min"],
            term_months_max=limits["term_months_max"],
            balloon_share_max=Decimal(limits["balloon_share_max"]),
            annual_rate_min=Decimal(limits["annual_rate_min"]),
            annual_rate_max=Decimal(limits["annual_rate_max"]),
            principal_fen_min=limits["principal_fen_min"],
            principal_fen_max=limits["principal_fen_max"],
        ),
        day_count=DayCount(data["day_count"]),
        penalty_multiplier=Decimal(data["penalty_multiplier"]),
        compound_overdue_interest=data["compound_overdue_interest"],
        grace_days=data["grace_days"],
        holiday_rule=HolidayRule(data["holiday_rule"]),
        rounding=RoundingMode(data["rounding"]),
        residual_to=ResidualTo(data["residual_to"]),
        waterfall=WaterfallOrder(data["waterfall"]),
        prepayment_fee_tiers=tuple(
            PrepaymentFeeTier(t["before_month"], Decimal(t["rate"]))
            for t in data["prepayment_fee_tiers"]
        ),
        fees=tuple(
            Fee(FeeKind(f["kind"]), f["amount_fen"], f["financed"]) for f in data["fees"]
        ),
        buckets=tuple(Bucket(b[0], b[1], b[2]) for b in data["buckets"]),
        maturity=MaturityPolicy(
            refinance_term_months_min=maturity["refinance_term_months_min"],
            refinance_term_months_max=maturity["refinance_term_months_max"],
            allows_vehicle_return=maturity["allows_vehicle_return"],
            extension_share_of_term_max=Decimal(maturity["extension_share_of_term_max"]),
            total_term_months_max_new=maturity["total_term_months_max_new"],
            total_term_months_max_used=maturity["total_term_months_max_used"],
            caps_include_extensions=maturity["caps_include_extensions"],
            waive_prepayment_fee_on_trade_in=maturity["waive_prepayment_fee_on_trade_in"],
        ),
    )
