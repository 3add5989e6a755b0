"""Behavioural models: what a loan's own history says about the next months.

Two questions, asked of every active loan at an observation date `as_of`:

- `dpd30-90d`: will the loan be 30 or more days past due at some point in the next 90 days?
- `balloon-30d`: will its balloon still be unsettled 30 days after its due date? (asked at
  120, 90, 60 and 30 days before the due date, the stages of the balloon watch).

Everything here is pure and column-wise: the caller hands in the facts as data frames (read
from the platform's tables by `services.behavioural_scores`, or from a simulator run) and gets
one feature row per observation, in the observations' order. A feature at `as_of` reads only
facts dated on or before `as_of` -- an instalment settled later counts as unpaid, a bounce or a
vehicle signal later is not counted -- so the same function builds the training rows from a
history and the scoring rows from today's books, and a test proves that appending later
events changes nothing.

Inputs (column contracts; dates as anything pandas reads as a date):

- `observations`: loan_id, as_of, dpd, principal_outstanding_fen, balloon_fen,
  balloon_due_date (missing when the loan has no balloon);
- `loans`: loan_id, disbursement_date, term_months, principal_fen, price_fen, vehicle_used,
  vehicle_nev, region_code (where the loan is serviced), residence_region_code,
  id_region_code, birth_date;
- `instalments`: loan_id, due_date, grace_end, settled_on (missing while open);
- `bounces`: loan_id, value_date (auto-debits the bank returned: payment reversals);
- `signals`: loan_id, day, kind (vehicle telematics: gps-offline, outside-province,
  device-tampering; other kinds are ignored).

Targets are built from later facts only by the training helpers at the bottom
(`dpd30_targets`, `balloon_observations`), never by the feature builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.behavioural_models import (
    BALLOON_GRACE_DAYS,
    BALLOON_MODEL,
    BALLOON_STAGES,
    BANDS,
    DPD30_MODEL,
    HORIZON_DAYS,
    MODELS,
    TELEMATICS_KINDS,
    band_of,
)
from tailguard.risk.features import FeatureSpec
from tailguard.risk.model import CreditModel

SIMULATOR_SIGNALS = {"gps-offline": "gps-offline", "left-home-province": "outside-province",
                     "gps-tampering": "device-tampering"}
"""The simulator's names for the same three signals (its exports predate `monitoring`)."""

FUEL_RETENTION = 0.85
NEV_RETENTION = 0.78
"""Share of value kept per year, declining balance: CADA's residual-value rankings put
three-year retention near 60 % for fuel cars and 45-50 % for NEVs in 2023 (0.85^3 = 0.61,
0.78^3 = 0.47); the simulator's README gives the same source."""

NUMERIC = (
    "dpd", "months_on_book", "late_3m", "late_6m", "worst_late_days_6m", "unpaid_due",
    "bounces_3m", "bounces_6m", "telematics_90d", "ltv_now", "ltv_value", "balance_share",
    "balloon_share", "days_to_balloon", "term_months", "age_years",
)
CATEGORICAL = ("cross_region", "region_tier", "vehicle")
SPEC = FeatureSpec(NUMERIC, CATEGORICAL)
"""Both models read the same columns; the binning keeps what matters to each."""

Day = npt.NDArray[np.datetime64]


def _days(column: pd.Series | Sequence[object]) -> npt.NDArray[np.datetime64]:
    """Dates as datetime64[D] (NaT where missing)."""
    return np.asarray(pd.to_datetime(pd.Series(column), errors="coerce")
                      .to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"))


def _province(codes: pd.Series) -> npt.NDArray[np.object_]:
    text = codes.fillna("").astype(str).to_numpy(dtype=object)
    return np.array([c[:2] + "0000" if len(c) >= 2 else "" for c in text], dtype=object)


def cross_region(region: pd.Series, residence: pd.Series, id_region: pd.Series
                 ) -> npt.NDArray[np.bool_]:
    """异地: the borrower's residence or ID registration is in another province than the loan
    (the same rule as the early-warning features)."""
    p_loan, p_res, p_id = _province(region), _province(residence), _province(id_region)
    out = np.zeros(len(p_loan), dtype=bool)
    for home in (p_res, p_id):
        out |= (home != "") & (p_loan != "") & (home != p_loan)
    return out


def region_tiers(codes: pd.Series) -> npt.NDArray[np.object_]:
    """The default credit policy's tier of each region (origination.policy.tier_of)."""
    from tailguard.origination.policy import default_policy, tier_of

    policy = default_policy()
    cache: dict[str, str] = {}
    out = np.empty(len(codes), dtype=object)
    for i, code in enumerate(codes.fillna("").astype(str).to_numpy(dtype=object)):
        if code not in cache:
            cache[code] = str(tier_of(policy, code)) if len(code) == 6 else "unknown"
        out[i] = cache[code]
    return out


def _window_counts(obs_loan: npt.NDArray[np.object_], obs_day: Day, loan: npt.NDArray[np.object_],
                   day: Day, windows: Sequence[int]) -> list[npt.NDArray[np.int64]]:
    """For each observation, how many events of its loan fall in (as_of - w, as_of], per w."""
    n = len(obs_loan)
    out = [np.zeros(n, dtype=np.int64) for _ in windows]
    if not len(loan) or not n:
        return out
    events = pd.DataFrame({"loan_id": loan, "day": day}).dropna()
    obs = pd.DataFrame({"loan_id": obs_loan, "as_of": obs_day, "row": np.arange(n)})
    joined = obs.merge(events, on="loan_id", how="inner")
    age = (joined["as_of"].to_numpy() - joined["day"].to_numpy()).astype("timedelta64[D]")
    age_days = age.astype(np.int64)
    rows = joined["row"].to_numpy(dtype=np.int64)
    for counts, w in zip(out, windows, strict=True):
        hit = (age_days >= 0) & (age_days < w)
        counts += np.bincount(rows[hit], minlength=n)
    return out


@dataclass(frozen=True)
class InstalmentHistory:
    late_3m: npt.NDArray[np.int64]
    late_6m: npt.NDArray[np.int64]
    worst_late_days_6m: npt.NDArray[np.int64]
    unpaid_due: npt.NDArray[np.int64]
    dpd: npt.NDArray[np.int64]
    """Days since the due date of the oldest instalment open at `as_of` past its grace end
    (0 when none): the platform's DPD, rebuilt for dates it has no snapshot of."""


def instalment_history(observations: pd.DataFrame, instalments: pd.DataFrame
                       ) -> InstalmentHistory:
    """Repayment history at each observation date, from the instalments' due, grace and
    settlement dates only. An instalment is late when it was settled after its grace end or is
    still open at `as_of`; settlement after `as_of` is unknown at `as_of` and so counts as
    open."""
    n = len(observations)
    zeros = [np.zeros(n, dtype=np.int64) for _ in range(5)]
    if not n or not len(instalments):
        return InstalmentHistory(*zeros)
    obs = pd.DataFrame({"loan_id": observations["loan_id"].to_numpy(dtype=object),
                        "as_of": _days(observations["as_of"]), "row": np.arange(n)})
    due = _days(instalments["due_date"])
    grace = (_days(instalments["grace_end"]) if "grace_end" in instalments.columns else due)
    grace = np.where(np.isnat(grace), due, grace)
    inst = pd.DataFrame({"loan_id": instalments["loan_id"].to_numpy(dtype=object),
                         "due": due, "grace": grace,
                         "settled": _days(instalments["settled_on"])})
    j = obs.merge(inst, on="loan_id", how="inner")
    as_of = j["as_of"].to_numpy(dtype="datetime64[D]")
    due_j = j["due"].to_numpy(dtype="datetime64[D]")
    grace_j = j["grace"].to_numpy(dtype="datetime64[D]")
    settled = j["settled"].to_numpy(dtype="datetime64[D]")
    known = ~np.isnat(settled) & (settled <= as_of)
    is_due = due_j <= as_of
    age = (as_of - due_j).astype(np.int64)
    late_by = np.where(known, (settled - grace_j).astype(np.int64),
                       (as_of - grace_j).astype(np.int64))
    late = is_due & (late_by > 0)
    rows = j["row"].to_numpy(dtype=np.int64)

    def count(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(rows[mask], minlength=n).astype(np.int64)

    in_3m, in_6m = is_due & (age < 91), is_due & (age < 183)
    worst = np.zeros(n, dtype=np.int64)
    days_late = np.where(known, (settled - due_j).astype(np.int64), age)
    sel = in_6m & late
    np.maximum.at(worst, rows[sel], np.maximum(days_late[sel], 0))
    open_due = is_due & ~known
    overdue = open_due & (as_of > grace_j)  # the platform's DPD: from the due date, once
    dpd = np.zeros(n, dtype=np.int64)       # the grace period is over (loans.position)
    np.maximum.at(dpd, rows[overdue], age[overdue])
    return InstalmentHistory(count(in_3m & late), count(in_6m & late), worst, count(open_due),
                             dpd)


def features(observations: pd.DataFrame, loans: pd.DataFrame, instalments: pd.DataFrame,
             bounces: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """One row of `SPEC` columns per observation, in the observations' order (see the module
    docstring for the inputs)."""
    n = len(observations)
    obs = observations.reset_index(drop=True)
    static = loans.drop_duplicates("loan_id").set_index("loan_id")
    missing = [c for c in obs["loan_id"].unique() if c not in static.index]
    if missing:
        raise ValueError(f"observations of unknown loans: {', '.join(map(str, missing[:5]))}")
    s = static.loc[obs["loan_id"].to_numpy(dtype=object)].reset_index()
    as_of = _days(obs["as_of"])
    obs_loan = obs["loan_id"].to_numpy(dtype=object)
    history = instalment_history(obs, instalments)
    b3, b6 = _window_counts(obs_loan, as_of, bounces["loan_id"].to_numpy(dtype=object),
                            _days(bounces["value_date"]), (91, 183))
    telematics = signals[signals["kind"].isin(TELEMATICS_KINDS)]
    (t90,) = _window_counts(obs_loan, as_of, telematics["loan_id"].to_numpy(dtype=object),
                            _days(telematics["day"]), (91,))
    disbursed = _days(s["disbursement_date"])
    age_days = (as_of - disbursed).astype(np.int64)
    price = s["price_fen"].to_numpy(dtype=np.float64)
    principal = s["principal_fen"].to_numpy(dtype=np.float64)
    outstanding = obs["principal_outstanding_fen"].to_numpy(dtype=np.float64)
    nev = s["vehicle_nev"].to_numpy(dtype=bool)
    used = s["vehicle_used"].to_numpy(dtype=bool)
    years = np.maximum(age_days, 0) / 365.25
    value = price * np.where(nev, NEV_RETENTION, FUEL_RETENTION) ** years
    balloon = obs["balloon_fen"].fillna(0).to_numpy(dtype=np.float64)
    balloon_due = _days(obs["balloon_due_date"])
    to_balloon = np.where((balloon > 0) & ~np.isnat(balloon_due),
                          (balloon_due - as_of).astype(np.int64).astype(np.float64), np.nan)
    birth = _days(s["birth_date"])
    age_years = np.where(np.isnat(birth), np.nan,
                         (as_of - birth).astype(np.int64).astype(np.float64) / 365.25)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "dpd": obs["dpd"].to_numpy(dtype=np.float64),
            "months_on_book": age_days / 30.4375,
            "late_3m": history.late_3m, "late_6m": history.late_6m,
            "worst_late_days_6m": history.worst_late_days_6m,
            "unpaid_due": history.unpaid_due,
            "bounces_3m": b3, "bounces_6m": b6, "telematics_90d": t90,
            "ltv_now": np.where(price > 0, outstanding / price, np.nan),
            "ltv_value": np.where(value > 0, outstanding / value, np.nan),
            "balance_share": np.where(principal > 0, outstanding / principal, np.nan),
            "balloon_share": np.where(principal > 0, balloon / principal, np.nan),
            "days_to_balloon": to_balloon,
            "term_months": s["term_months"].to_numpy(dtype=np.float64),
            "age_years": age_years,
        }
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in out.items()},
                         index=pd.RangeIndex(n))
    cross = cross_region(s["region_code"], s["residence_region_code"], s["id_region_code"])
    frame["cross_region"] = pd.Series(np.where(cross, "yes", "no"), dtype=object)
    frame["region_tier"] = pd.Series(region_tiers(s["region_code"]), dtype=object)
    frame["vehicle"] = pd.Series(np.char.add(np.where(used, "used-", "new-"),
                                             np.where(nev, "nev", "fuel")).astype(object),
                                 dtype=object)
    return frame[list(SPEC.columns)]


# -- training targets (later facts, used only to label history) -----------------------------
def dpd30_targets(observations: pd.DataFrame, snapshots: pd.DataFrame,
                  horizon_days: int = HORIZON_DAYS) -> npt.NDArray[np.int64]:
    """1 when a month-end snapshot in (as_of, as_of + horizon] shows the loan 30+ DPD or
    written off; -1 when the history ends before the horizon (unlabelled: drop the row).
    `snapshots`: loan_id, month_end, dpd, status."""
    n = len(observations)
    obs = pd.DataFrame({"loan_id": observations["loan_id"].to_numpy(dtype=object),
                        "as_of": _days(observations["as_of"]), "row": np.arange(n)})
    snap = pd.DataFrame({"loan_id": snapshots["loan_id"].to_numpy(dtype=object),
                         "month_end": _days(snapshots["month_end"]),
                         "bad": ((snapshots["dpd"].to_numpy() >= 30)
                                 | (snapshots["status"].to_numpy(dtype=object)
                                    == "written-off"))})
    last = snap["month_end"].max() if len(snap) else np.datetime64("NaT")
    j = obs.merge(snap, on="loan_id", how="inner")
    ahead = (j["month_end"].to_numpy() - j["as_of"].to_numpy()).astype("timedelta64[D]")
    ahead_days = ahead.astype(np.int64)
    hit = (ahead_days > 0) & (ahead_days <= horizon_days) & j["bad"].to_numpy(dtype=bool)
    y = (np.bincount(j["row"].to_numpy(dtype=np.int64)[hit], minlength=n) > 0).astype(np.int64)
    horizon_end = obs["as_of"].to_numpy() + np.timedelta64(horizon_days, "D")
    y[horizon_end > last] = -1
    return y


def balloon_observations(balloons: pd.DataFrame, stages: Sequence[int] = BALLOON_STAGES
                         ) -> pd.DataFrame:
    """One observation per balloon and stage: loan_id, as_of (due − stage days), stage, due,
    y (1 when not settled within `BALLOON_GRACE_DAYS`). `balloons`: loan_id, due, cleared."""
    parts = []
    due = _days(balloons["due"])
    for stage in stages:
        parts.append(pd.DataFrame({
            "loan_id": balloons["loan_id"].to_numpy(dtype=object),
            "as_of": due - np.timedelta64(stage, "D"), "stage": stage, "due": due,
            "y": (~balloons["cleared"].to_numpy(dtype=bool)).astype(np.int64)}))
    if not parts:
        return pd.DataFrame(columns=["loan_id", "as_of", "stage", "due", "y"])
    return (pd.concat(parts, ignore_index=True)
            .sort_values(["as_of", "loan_id"], kind="stable").reset_index(drop=True))


def time_split(as_of: pd.Series, label_day: pd.Series, cutoff: np.datetime64
               ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Train on observations whose outcome was known by `cutoff` (label day on or before it);
    test on observations made on or after it. Rows in between (observed before the cutoff,
    outcome after it) are in neither, so no training label comes from the test period."""
    train = _days(label_day) <= cutoff
    test = _days(as_of) >= cutoff
    return train, test


# -- scoring -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scored:
    """One model's output for feature rows, in the rows' order."""

    pd: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    band: npt.NDArray[np.object_]
    reasons: list[str]
    """Feature codes of the top reasons, joined by '|'."""


def score_rows(model: CreditModel, rows: pd.DataFrame, top: int = 3) -> Scored:
    """PD, score (the model's PDO scale), band and reasons of feature rows (as `features`
    builds them), row i of the output for row i of the input."""
    prepared = model.prepare(rows)
    pd_ = model.predict_pd(prepared)
    scores = model.config.scaling.score_from_pd(pd_)
    reasons = ["|".join(r.code for r in row) for row in model.reasons(prepared, top)]
    return Scored(pd_, scores, band_of(scores), reasons)


__all__ = ["BALLOON_GRACE_DAYS", "BALLOON_MODEL", "BALLOON_STAGES", "BANDS", "DPD30_MODEL",
           "HORIZON_DAYS", "MODELS", "SPEC", "TELEMATICS_KINDS", "Scored",
           "balloon_observations", "band_of", "cross_region", "dpd30_targets", "features",
           "instalment_history", "score_rows", "time_split"]
