"""The application score: features from the decision's facts, and a port to a model.

`application_features` names the columns an application model is trained on (docs/
origination.md lists them), computed from the `DecisionInput` alone, so the features a decision
stored are exactly what the model saw. `ModelScorer` scores them with a model directory written
by `tailguard risk train` (`risk.registry`), and identifies the model by its manifest version
and the SHA-256 of `manifest.json` (which holds the hash of every other file). A model that
needs a column the application does not have raises `ScoringUnavailable`: the decision then
refers the application ("no score") instead of guessing.

Pure apart from reading the model directory once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tailguard.origination.decision import DecisionInput, ScoreFacts, debt_to_income


class ScoringUnavailable(RuntimeError):
    """No score can be given (no model, or the model needs inputs the application lacks)."""


class Scorer(Protocol):
    def score(self, features: Mapping[str, Any]) -> ScoreFacts: ...


def application_features(inputs: DecisionInput) -> dict[str, Any]:
    """One row of model inputs. Numbers as floats (models may use them), categories as text."""
    borrower = inputs.borrower
    dti = debt_to_income(inputs)
    price = inputs.vehicle_price_fen
    return {
        "age": borrower.age_at_application,
        "monthly_income_yuan": borrower.declared_monthly_income_fen / 100,
        "debt_to_income": float(dti) if dti is not None else 9.99,
        "ltv": round(inputs.principal_fen / price, 4),
        "down_payment_share": round(inputs.down_payment_fen / price, 4),
        "balloon_share": float(inputs.balloon_share),
        "term_months": inputs.term_months,
        "employment": borrower.employment,
        "employment_months": borrower.employment_months,
        "vehicle_condition": inputs.vehicle_condition,
        "bureau_accounts": borrower.bureau.credit_accounts,
        "bureau_open_loans": borrower.bureau.open_loans,
        "bureau_max_dpd_24m": borrower.bureau.max_dpd_24m,
        "bureau_inquiries_6m": borrower.bureau.inquiries_6m,
        "cross_province": "yes" if inputs.cross_province else "no",
        "distance_km": round(inputs.max_distance_km or 0.0, 1),
        "has_guarantor": "yes" if any(p.role == "guarantor" for p in inputs.parties) else "no",
        "province": inputs.policy_region[:2] + "0000",
    }


@dataclass
class ModelScorer:
    """A model directory of `tailguard risk train`, loaded on first use."""

    directory: Path
    top_reasons: int = 4

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: Any = None
        self._sha256 = ""

    def _model(self) -> Any:
        with self._lock:
            if self._loaded is None:
                from tailguard.risk.registry import load_model

                manifest = self.directory / "manifest.json"
                if not manifest.is_file():
                    raise ScoringUnavailable(f"no model at {self.directory}")
                self._loaded = load_model(self.directory)
                self._sha256 = hashlib.sha256(manifest.read_bytes()).hexdigest()
            return self._loaded

    def score(self, features: Mapping[str, Any]) -> ScoreFacts:
        import pandas as pd

        registered = self._model()
        model = registered.model
        missing = [c for c in model.spec.columns if c not in features]
        if missing:
            raise ScoringUnavailable(f"the model needs {', '.join(missing)}")
        frame = pd.DataFrame([dict(features)])
        prepared = model.prepare(frame)
        pd_ = model.predict_pd(prepared)
        column = registered.region_column
        if registered.regional is not None and column and column in features:
            pd_ = registered.regional.adjust(pd_, [[str(features[column])]])
        score = model.config.scaling.score_from_pd(pd_)
        reasons = model.reasons(prepared, self.top_reasons)[0]
        return ScoreFacts(
            model_version=str(registered.manifest["version"]), model_sha256=self._sha256,
            features=dict(features), pd=round(float(pd_[0]), 6),
            score=round(float(score[0])), reasons=tuple(r.code for r in reasons))
