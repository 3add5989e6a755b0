"""Applications and an application model for the origination service and API tests.

The model is a real one: a scorecard (`tailguard.risk`, champion only, for speed) fitted on
synthetic applications whose bad rate rises with debt-to-income, LTV, bureau delinquency,
inquiries and cross-province applications, saved as a model directory like
`tailguard risk train` writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from tailguard.origination.application import ApplicationIn, DocumentIn, PartyIn, VehicleIn
from tests.service.factories import resident_id, vin

ALL_DOCUMENTS = ("id-card", "driving-licence", "income-proof", "bank-statement",
                 "employment-proof", "residence-proof")
PDF = b"%PDF-1.4\n% an uploaded document\n"


def synthetic_applications(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    r = np.random.default_rng(seed)
    ltv = r.uniform(0.4, 0.9, n).round(4)
    frame = pd.DataFrame({
        "age": r.integers(20, 60, n),
        "monthly_income_yuan": r.integers(5000, 40000, n).astype(float),
        "debt_to_income": r.uniform(0.1, 0.8, n).round(4), "ltv": ltv,
        "down_payment_share": (1 - ltv).round(4),
        "balloon_share": r.choice([0.0, 0.2, 0.3, 0.4], n),
        "term_months": r.choice([24, 36, 48, 60], n),
        "employment": r.choice(["employed", "self-employed", "civil-servant"], n),
        "employment_months": r.integers(0, 200, n),
        "vehicle_condition": r.choice(["new", "used"], n),
        "bureau_accounts": r.integers(0, 12, n), "bureau_open_loans": r.integers(0, 4, n),
        "bureau_max_dpd_24m": r.choice([0, 0, 0, 0, 15, 45], n),
        "bureau_inquiries_6m": r.integers(0, 9, n),
        "cross_province": r.choice(["yes", "no"], n),
        "distance_km": r.uniform(0, 2000, n).round(1),
        "has_guarantor": r.choice(["yes", "no"], n),
    })
    z = (-5.2 + 3.0 * (frame.debt_to_income - 0.4) + 4.0 * (frame.ltv - 0.6)
         + 0.04 * frame.bureau_max_dpd_24m + 0.15 * frame.bureau_inquiries_6m
         + 0.6 * (frame.cross_province == "yes"))
    y = (r.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return frame, y


def train_application_model(directory: Path, rows: int = 2000) -> dict[str, object]:
    from tailguard.risk.features import infer_features, prepare
    from tailguard.risk.model import ModelConfig, fit_credit_model
    from tailguard.risk.monitoring import score_reference
    from tailguard.risk.registry import save_model

    frame, y = synthetic_applications(rows)
    spec = infer_features(frame)
    features = prepare(frame, spec)
    fitted = fit_credit_model(features, y, spec, ModelConfig(weights=(1.0, 0.0, 0.0, 0.0)))
    return save_model(directory, fitted.model, score_reference(fitted.model.score(features)),
                      created=datetime(2026, 12, 4, tzinfo=UTC),
                      training={"rows": rows, "bad_rate": float(y.mean())}, metrics={})


def party(role: str = "borrower", *, region: str = "440305", sequence: int = 123,
          income_fen: int = 30_000_00, debt_fen: int = 0, name: str = "李四",
          residence: str | None = "440305", card: str | None = "6222020200112233446",
          birth: str = "19850315") -> PartyIn:
    return PartyIn(role=role, name=name, id_number=resident_id(region, birth, sequence),
                   phone="13800138000", monthly_income_fen=income_fen, employment="employed",
                   employment_months=48, employer="深圳某科技有限公司", bank_card=card,
                   residence_region_code=residence, monthly_debt_payments_fen=debt_fen)


def application_in(
    *, parties: tuple[PartyIn, ...] | None = None, price_fen: int = 250_000_00,
    down_fen: int = 100_000_00, balloon: str = "0.2", term: int = 36,
    documents: tuple[str, ...] = ALL_DOCUMENTS, serial: int = 1,
) -> ApplicationIn:
    return ApplicationIn(
        parties=parties or (party(),),
        vehicle=VehicleIn(vin=vin(serial), condition="new", energy="nev", price_fen=price_fen,
                          registration_region_code="440300"),
        dealer_id="D-SZ-1", product_code="auto-balloon", term_months=term,
        annual_rate=Decimal("0.0475"), down_payment_fen=down_fen,
        balloon_share=Decimal(balloon),
        documents=tuple(DocumentIn(kind, f"{kind}.pdf", "application/pdf", PDF + kind.encode())
                        for kind in documents),
    )
