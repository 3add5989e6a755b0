"""Writing a run's history for model training (Parquet) and its KPIs as plots (PNG) and JSON.

Tables: `loans` (terms and the world's columns), `borrowers` (no full ID number or phone: the
numbers are synthetic but valid, so they are masked like personal data: region code, birth
date, sex, income, employment, cross-region flags), `monthly_states` (the platform's loan
states at each month-end), `payments` (the platform's payment and reversal events),
`balloons` (outcome 30 days after each balloon) and `signals` (vehicle telematics).
Files are written deterministically: the same run gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tailguard.services.platform import Platform
from tailguard.simulation.economy import load_geography
from tailguard.simulation.report import (
    Comparison,
    Kpis,
    balloon_frame,
    monthly_states,
    payments_frame,
)
from tailguard.simulation.runner import Simulation
from tailguard.simulation.world import EMPLOYMENT, catalogue_products, loan_id


def loans_frame(sim: Simulation) -> pd.DataFrame:
    w = sim.world
    geo = load_geography()
    products = catalogue_products(sim.config.world)
    n = len(w)
    frame = pd.DataFrame({
        "loan_id": [loan_id(i) for i in range(n)],
        "disbursement_date": pd.Timestamp(w.start) + pd.to_timedelta(w.day, unit="D"),
        "product_code": np.array(products.codes)[w.product],
        "term_months": w.term, "balloon_share_bp": w.balloon_bp, "annual_rate_bp": w.rate_bp,
        "price_fen": w.price_fen, "down_payment_fen": w.down_fen,
        "principal_fen": w.principal_fen, "ltv": w.ltv, "dti": w.dti,
        "dealer_region_code": geo.city_codes[w.dealer_city[w.dealer]],
        "registration_region_code": geo.city_codes[w.registration_city],
        "vehicle_used": w.used, "vehicle_nev": w.nev, "vehicle_age_years": w.vehicle_age_years,
        "depreciation_rate": w.depreciation, "gps": w.gps, "cross_region": w.cross_region,
    })
    return frame[w.day < sim.days].reset_index(drop=True)


def borrowers_frame(sim: Simulation) -> pd.DataFrame:
    w = sim.world
    geo = load_geography()
    ids = w.id_number
    return pd.DataFrame({
        "loan_id": [loan_id(i) for i in range(len(w))],
        "id_region_code": geo.county_codes[w.id_county],
        "birth_date": pd.Timestamp("1970-01-01") + pd.to_timedelta(w.birth_days, unit="D"),
        "sex": np.where((np.frombuffer(ids.astype("S18").tobytes(), dtype=np.uint8)
                         .reshape(-1, 18)[:, 16] - 48) % 2 == 1, "male", "female"),
        "residence_region_code": geo.county_codes[w.residence_county],
        "employer_city_code": geo.city_codes[w.employer_city],
        "employment": np.array(EMPLOYMENT)[w.employment],
        "monthly_income_fen": w.income_fen, "savings_months": w.savings_months,
        "young": w.young,
    })[w.day < sim.days].reset_index(drop=True)


def write_exports(sim: Simulation, platform: Platform, out: Path) -> dict[str, str]:
    """Write the tables; returns file name → SHA-256 of its bytes."""
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {
        "loans": loans_frame(sim),
        "borrowers": borrowers_frame(sim),
        "monthly_states": monthly_states(sim.state),
        "payments": payments_frame(platform),
        "balloons": balloon_frame(sim.state),
        "signals": pd.DataFrame(sim.state.signals,
                                columns=["loan_id", "day", "signal", "before_stop"]),
    }
    digests = {}
    for name, frame in tables.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False, compression="zstd")
        digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def write_json(document: dict[str, Any], path: Path) -> str:
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def write_plots(kpis: Kpis, out: Path, comparison: list[Comparison] | None = None,
                challenger: Kpis | None = None, names: tuple[str, str] = ("champion",
                                                                            "challenger")
                ) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    m = kpis.by_month
    if len(m):
        fig, axes = plt.subplots(2, 2, figsize=(11, 7))
        x = m["month"]
        series = (("dpd30_ratio", "30+ DPD ratio"), ("balloon_clearance_rate",
                                                     "balloon clearance (30 days)"),
                  ("roll_rate", "roll rate 1–29 → 30+"), ("cure_rate", "cure rate"))
        for ax, (column, title) in zip(axes.flat, series, strict=True):
            ax.plot(x, m[column], marker="o", label=names[0])
            if challenger is not None and len(challenger.by_month):
                ax.plot(challenger.by_month["month"], challenger.by_month[column], marker="x",
                        label=names[1])
                ax.legend()
            ax.set_title(title)
            ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        fig.tight_layout()
        fig.savefig(out / "kpis_by_month.png", dpi=90)
        plt.close(fig)
        written.append("kpis_by_month.png")
    r = kpis.by_region
    if len(r):
        fig, ax = plt.subplots(figsize=(11, 4))
        ax.bar(range(len(r)), r["dpd30_ratio"].fillna(0))
        ax.set_xticks(range(len(r)))
        ax.set_xticklabels([str(code) for code in r["province_code"]], rotation=90, fontsize=7)
        ax.set_title("30+ DPD ratio by dealer province, last month-end")
        fig.tight_layout()
        fig.savefig(out / "dpd30_by_province.png", dpi=90)
        plt.close(fig)
        written.append("dpd30_by_province.png")
    if comparison:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = [c.metric for c in comparison]
        diff = np.array([c.difference for c in comparison])
        err = np.array([[c.difference - c.low for c in comparison],
                        [c.high - c.difference for c in comparison]])
        ax.errorbar(diff, range(len(labels)), xerr=np.nan_to_num(err), fmt="o", capsize=4)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels)
        ax.set_title(f"{names[1]} − {names[0]}, 95 % paired bootstrap interval")
        fig.tight_layout()
        fig.savefig(out / "champion_challenger.png", dpi=90)
        plt.close(fig)
        written.append("champion_challenger.png")
    return written
