"""KPIs of a simulated portfolio, read from the platform's own records.

Sources, all written by the platform's services during the run:
- month-end snapshots of `loans` (status) and `loan_state` (dpd, principal outstanding),
  taken by the runner right after each month-end's end of day;
- `loan_events` (payments and reversals) for recoveries;
- `journal_entries`/`postings` with reason WRITE_OFF (the write-off expense leg) for losses;
- balloon outcomes: the platform's loan state and schedule versions read 30 days after each
  balloon's due date (the only figure whose *denominator* — which loans had a balloon due —
  comes from the simulator, since the platform drops a refinanced balloon from its schedule).

Definitions follow the glossary: 30+ DPD ratio = principal of active loans 30 or more days past
due over principal of all active loans; roll rate = share of loans 1–29 DPD at the previous
month-end that are 30+ now; cure rate = share of loans past due at the previous month-end that
are current or paid off now; balloon clearance = balloons paid, refinanced, extended or closed
by vehicle within 30 days of their due date over balloons due; loss = receivables written off;
recovery = cash received (net of reversals) on a loan from the day the platform first showed it
at the repossession DPD (60) on; recovery rate = recoveries over the principal outstanding of
those loans at the month-end before they got there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import select

from tailguard.infra.db import tables
from tailguard.services.approvals import WRITE_OFF_EXPENSE
from tailguard.services.platform import Platform
from tailguard.simulation.economy import load_geography
from tailguard.simulation.runner import SimState


def monthly_states(state: SimState) -> pd.DataFrame:
    frames = []
    for snap in state.snapshots:
        frame = pd.DataFrame({k: v for k, v in snap.items() if k != "month_end"})
        frame.insert(0, "month_end", pd.Timestamp(snap["month_end"]))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["month_end", "loan_id", "status", "dpd",
                                     "principal_outstanding_fen", "paid_off"])
    return pd.concat(frames, ignore_index=True)


def payments_frame(platform: Platform) -> pd.DataFrame:
    e = tables.loan_events
    with platform.engine.connect() as conn:
        rows = conn.execute(select(e.c.loan_id, e.c.kind, e.c.reference, e.c.value_date,
                                   e.c.amount_fen, e.c.channel)
                            .where(e.c.loan_id.like("SIM%"))
                            .order_by(e.c.loan_id, e.c.id)).all()
    frame = pd.DataFrame(rows, columns=["loan_id", "kind", "reference", "value_date",
                                        "amount_fen", "channel"])
    frame["value_date"] = pd.to_datetime(frame["value_date"])
    frame["amount_fen"] = frame["amount_fen"].fillna(0).astype("int64")
    return frame


def write_offs_frame(platform: Platform) -> pd.DataFrame:
    j, p = tables.journal_entries, tables.postings
    with platform.engine.connect() as conn:
        rows = conn.execute(select(p.c.loan_id, j.c.value_date, p.c.amount_fen)
                            .join(j, j.c.seq == p.c.entry_seq)
                            .where(j.c.reason_code == "WRITE_OFF",
                                   p.c.account_code == WRITE_OFF_EXPENSE)
                            .order_by(p.c.loan_id)).all()
    frame = pd.DataFrame(rows, columns=["loan_id", "value_date", "amount_fen"])
    frame["value_date"] = pd.to_datetime(frame["value_date"])
    frame["amount_fen"] = frame["amount_fen"].astype("int64")
    return frame


def loan_regions(platform: Platform) -> pd.DataFrame:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(tables.loans.c.id, tables.loans.c.region_code,
                                   tables.loans.c.product_code, tables.loans.c.principal_fen)
                            .where(tables.loans.c.id.like("SIM%"))
                            .order_by(tables.loans.c.id)).all()
    frame = pd.DataFrame(rows, columns=["loan_id", "region_code", "product_code",
                                        "principal_fen"])
    names = {p.code: p.name for p in load_geography().provinces}
    frame["province_code"] = frame["region_code"].str[:2] + "0000"
    frame["province"] = frame["province_code"].map(lambda c: names.get(c, c))
    return frame


@dataclass(frozen=True)
class Kpis:
    by_month: pd.DataFrame
    by_region: pd.DataFrame
    totals: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for record in frame.to_dict(orient="records"):
                out.append({k: _plain(v) for k, v in record.items()})
            return out

        return {"by_month": rows(self.by_month), "by_region": rows(self.by_region),
                "totals": {k: _plain(v) for k, v in self.totals.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp | date):
        return value.strftime("%Y-%m")
    return value


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _month_figures(prev: pd.DataFrame | None, cur: pd.DataFrame,
                   payments: pd.DataFrame, write_offs: pd.DataFrame,
                   month: pd.Period) -> dict[str, Any]:
    active = cur[cur["status"] == "active"]
    principal = active["principal_outstanding_fen"].sum()
    dpd30 = active.loc[active["dpd"] >= 30, "principal_outstanding_fen"].sum()
    roll = cure = float("nan")
    recovery = 0
    if prev is not None:
        joined = prev.merge(cur, on="loan_id", suffixes=("_prev", ""))
        early = joined[(joined["status_prev"] == "active") & (joined["dpd_prev"] > 0)
                       & (joined["dpd_prev"] < 30)]
        roll = _ratio(((early["dpd"] >= 30) & (early["status"] == "active")).sum(), len(early))
        late = joined[(joined["status_prev"] == "active") & (joined["dpd_prev"] > 0)]
        cured = (late["dpd"] == 0) | late["paid_off"] | (late["status"] == "closed")
        cure = _ratio(cured.sum(), len(late))
        in_month = payments[(payments["value_date"].dt.to_period("M") == month)
                            & payments["after_distress"]]
        recovery = int(in_month.loc[in_month["kind"] == "payment", "amount_fen"].sum()
                       - in_month.loc[in_month["kind"] == "reversal", "amount_fen"].sum())
    loss = int(write_offs.loc[write_offs["value_date"].dt.to_period("M") == month,
                              "amount_fen"].sum())
    return {"active_loans": len(active), "principal_outstanding_fen": int(principal),
            "dpd30_ratio": _ratio(dpd30, principal), "roll_rate": roll, "cure_rate": cure,
            "loss_fen": loss, "recovery_fen": recovery}


def compute_kpis(platform: Platform, state: SimState) -> Kpis:
    states = monthly_states(state)
    payments = payments_frame(platform)
    distress = distress_dates(state)
    since = pd.to_datetime(payments["loan_id"].map(distress))
    payments["after_distress"] = since.notna() & (payments["value_date"] >= since)
    write_offs = write_offs_frame(platform)
    regions = loan_regions(platform)
    balloons = balloon_frame(state)
    rows = []
    prev: pd.DataFrame | None = None
    for month_end, cur in states.groupby("month_end", sort=True):
        month = pd.Timestamp(month_end).to_period("M")
        figures = _month_figures(prev, cur, payments, write_offs, month)
        due = balloons[balloons["due"].dt.to_period("M") == month] if len(balloons) else balloons
        figures["balloons_due"] = len(due)
        figures["balloon_clearance_rate"] = _ratio(due["cleared"].sum(), len(due)) if len(
            due) else float("nan")
        rows.append({"month": month.strftime("%Y-%m")} | figures)
        prev = cur
    by_month = pd.DataFrame(rows)

    region_rows = []
    if len(states):
        last = states[states["month_end"] == states["month_end"].max()].merge(
            regions[["loan_id", "province_code", "province"]], on="loan_id")
        for (code, province), group in last.groupby(["province_code", "province"], sort=True):
            ids = set(group["loan_id"])
            active = group[group["status"] == "active"]
            principal = active["principal_outstanding_fen"].sum()
            b = balloons[balloons["loan_id"].isin(ids)] if len(balloons) else balloons
            region_rows.append({
                "province_code": code, "province": province, "loans": len(group),
                "principal_outstanding_fen": int(principal),
                "dpd30_ratio": _ratio(active.loc[active["dpd"] >= 30,
                                                 "principal_outstanding_fen"].sum(), principal),
                "balloons_due": len(b),
                "balloon_clearance_rate": _ratio(b["cleared"].sum(), len(b)) if len(b)
                else float("nan"),
                "loss_fen": int(write_offs.loc[write_offs["loan_id"].isin(ids),
                                               "amount_fen"].sum()),
                "written_off": int((group["status"] == "written-off").sum()),
            })
    by_region = pd.DataFrame(region_rows)
    totals: dict[str, Any] = {
        "loans_booked": len(regions),
        "balloons_due": len(balloons),
        "balloon_clearance_rate": _ratio(balloons["cleared"].sum(), len(balloons))
        if len(balloons) else float("nan"),
        "dpd30_ratio_final": by_month["dpd30_ratio"].iloc[-1] if len(by_month) else float("nan"),
        "roll_rate_mean": float(by_month["roll_rate"].mean()) if len(by_month) else float("nan"),
        "cure_rate_mean": float(by_month["cure_rate"].mean()) if len(by_month) else float("nan"),
        "loss_fen": int(write_offs["amount_fen"].sum()),
        "recovery_fen": int(by_month["recovery_fen"].sum()) if len(by_month) else 0,
        "payments_posted": state.counters.payments,
        "reversals": state.counters.reversals,
        "prepayments": state.counters.prepayments,
        "refinances": state.counters.refinances,
        "extensions": state.counters.extensions,
        "trade_ins": state.counters.trade_ins,
        "returns": state.counters.returns,
        "repossessions": state.counters.repossessions,
        "write_offs": state.counters.write_offs,
        "signals": len(state.signals),
    }
    if len(balloons):
        for choice, count in balloons["choice"].value_counts().sort_index().items():
            totals[f"balloon_choice_{choice}"] = int(count)
    return Kpis(by_month, by_region, totals)


def distress_dates(state: SimState) -> dict[str, pd.Timestamp]:
    """Loan id → the day the platform first showed it at the repossession DPD."""
    days = np.flatnonzero(state.distress_day >= 0)
    start = pd.Timestamp(state.start)
    return {f"SIM{i:07d}": start + pd.Timedelta(days=int(state.distress_day[i]))
            for i in days.tolist()}


def balloon_frame(state: SimState) -> pd.DataFrame:
    frame = pd.DataFrame(state.balloons, columns=["loan_id", "due", "checked", "choice",
                                                  "balloon_fen", "value_fen", "status",
                                                  "cleared"])
    frame["due"] = pd.to_datetime(frame["due"])
    frame["checked"] = pd.to_datetime(frame["checked"])
    return frame.sort_values(["due", "loan_id"], kind="stable").reset_index(drop=True)


# -- champion / challenger --------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    metric: str
    champion: float
    challenger: float
    difference: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.__dict__.items()}


OUTCOME_COLUMNS = ["loan_id", "ever30", "final_principal", "final30", "balloon", "cleared",
                   "roll_num", "roll_den", "cure_num", "cure_den", "recovery_fen",
                   "distress_recovery_fen", "distress_principal", "loss_fen"]


def per_loan_outcomes(state: SimState, platform: Platform | None = None,
                      since: date | None = None) -> pd.DataFrame:
    """Per loan over the window from `since` (the whole run without it): ever 30+ DPD at a
    month-end, final principal and 30+ flag, a balloon due and whether it cleared, its
    month-to-month transitions (1–29 → 30+ for the roll rate, past due → current or paid off
    for the cure rate), and with the platform: cash received after the repossession DPD
    (`recovery_fen`; for loans first reaching it inside the window also against their principal
    at the month-end before: `distress_recovery_fen` / `distress_principal`) and write-offs.
    Month pairs count when their later month-end is in the window."""
    states = monthly_states(state)
    if not len(states):
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    ends = sorted(states["month_end"].unique())
    first = pd.Timestamp(since) if since is not None else pd.Timestamp(ends[0])
    window = [e for e in ends if e >= first]
    if not window:
        raise ValueError(f"no month-end on or after {since}")
    dpd = states.pivot(index="loan_id", columns="month_end", values="dpd")
    status = states.pivot(index="loan_id", columns="month_end", values="status")
    paid = states.pivot(index="loan_id", columns="month_end", values="paid_off")
    principal = states.pivot(index="loan_id", columns="month_end",
                             values="principal_outstanding_fen")
    n = len(dpd)
    counts = {k: np.zeros(n, dtype=np.int64) for k in ("roll_num", "roll_den", "cure_num",
                                                       "cure_den")}
    for k in range(1, len(ends)):
        if ends[k] < first:
            continue
        p, c = ends[k - 1], ends[k]
        was_active = (status[p] == "active").to_numpy()
        was = dpd[p].fillna(0).to_numpy()
        now_active = (status[c] == "active").to_numpy()
        now = dpd[c].fillna(0).to_numpy()
        early = was_active & (was > 0) & (was < 30)
        late = was_active & (was > 0)
        cured = ((now == 0) | paid[c].fillna(False).astype(bool).to_numpy()
                 | (status[c] == "closed").to_numpy())
        counts["roll_den"] += early
        counts["roll_num"] += early & now_active & (now >= 30)
        counts["cure_den"] += late
        counts["cure_num"] += late & cured
    last = ends[-1]
    active = (status[last] == "active").to_numpy()
    frame = pd.DataFrame({
        "ever30": (dpd[window].max(axis=1) >= 30).to_numpy(),
        "final_principal": np.where(active, principal[last].fillna(0).to_numpy(), 0),
        "final30": active & (dpd[last].fillna(0).to_numpy() >= 30),
        **counts,
    }, index=dpd.index)
    balloons = balloon_frame(state)
    balloons = balloons[balloons["due"] >= first]
    due = balloons.groupby("loan_id")["cleared"].all()
    frame["balloon"] = frame.index.isin(due.index)
    frame["cleared"] = due.reindex(frame.index).fillna(False).astype(bool).to_numpy()
    for column in ("recovery_fen", "distress_recovery_fen", "distress_principal", "loss_fen"):
        frame[column] = np.zeros(n, dtype=np.int64)
    if platform is not None:
        distress = distress_dates(state)
        payments = payments_frame(platform)
        since_distress = pd.to_datetime(payments["loan_id"].map(distress))
        cash = payments[since_distress.notna() & (payments["value_date"] >= since_distress)
                        & (payments["value_date"] >= first)]
        net = (cash["amount_fen"].where(cash["kind"] == "payment", 0)
               - cash["amount_fen"].where(cash["kind"] == "reversal", 0))
        received = net.groupby(cash["loan_id"]).sum()
        frame["recovery_fen"] = received.reindex(frame.index).fillna(0).astype("int64")
        new = {loan: day for loan, day in distress.items() if day >= first and loan in
               frame.index}
        for loan, day in new.items():
            before = [e for e in ends if e < day]
            if before:
                frame.loc[loan, "distress_principal"] = int(principal.loc[loan, before[-1]]
                                                            if not pd.isna(principal.loc[
                                                                loan, before[-1]]) else 0)
                frame.loc[loan, "distress_recovery_fen"] = frame.loc[loan, "recovery_fen"]
        losses = write_offs_frame(platform)
        losses = losses[losses["value_date"] >= first]
        frame["loss_fen"] = losses.groupby("loan_id")["amount_fen"].sum().reindex(
            frame.index).fillna(0).astype("int64")
    return frame.reset_index().rename(columns={"index": "loan_id"})


def _sums(frame: pd.DataFrame, idx: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
    """Column sums over bootstrap draws: `idx` is (draws, loans) of row indexes."""
    def col(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(frame[name].to_numpy(dtype=np.float64)[idx].sum(axis=-1),
                          dtype=np.float64)

    principal = frame["final_principal"].to_numpy(dtype=np.float64)
    final30 = frame["final30"].to_numpy(dtype=bool)
    balloon = frame["balloon"].to_numpy(dtype=bool)
    cleared = frame["cleared"].to_numpy(dtype=bool) & balloon
    return {
        "dpd30": (principal * final30)[idx].sum(axis=-1), "principal": principal[idx].sum(
            axis=-1),
        "ever30": frame["ever30"].to_numpy(dtype=np.float64)[idx].sum(axis=-1),
        "loans": np.full(idx.shape[:-1], idx.shape[-1], dtype=np.float64),
        "balloons": balloon.astype(np.float64)[idx].sum(axis=-1),
        "cleared": cleared.astype(np.float64)[idx].sum(axis=-1),
        **{k: col(k) for k in ("roll_num", "roll_den", "cure_num", "cure_den", "recovery_fen",
                               "distress_recovery_fen", "distress_principal", "loss_fen")},
    }


def _divide(num: npt.NDArray[Any], den: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1), np.nan),
                          dtype=np.float64)


METRICS = ("dpd30_ratio_final", "ever_30dpd_share", "balloon_clearance_rate", "roll_rate",
           "cure_rate", "recovery_rate", "recoveries_fen", "loss_fen")
"""Compared metrics: 30+ DPD ratio at the last month-end (principal-weighted); share of loans
ever 30+ DPD at a month-end of the window; balloons due in the window cleared within 30 days;
roll rate 1–29 → 30+ and cure rate pooled over the window's month pairs; recoveries (cash
after the repossession DPD) over the principal of loans first reaching it in the window; total
recoveries and write-offs in the window (fen)."""


def _metrics(s: dict[str, npt.NDArray[Any]], with_money: bool) -> dict[str, npt.NDArray[Any]]:
    out = {
        "dpd30_ratio_final": _divide(s["dpd30"], s["principal"]),
        "ever_30dpd_share": _divide(s["ever30"], s["loans"]),
        "balloon_clearance_rate": _divide(s["cleared"], s["balloons"]),
        "roll_rate": _divide(s["roll_num"], s["roll_den"]),
        "cure_rate": _divide(s["cure_num"], s["cure_den"]),
    }
    if with_money:
        out["recovery_rate"] = _divide(s["distress_recovery_fen"], s["distress_principal"])
        out["recoveries_fen"] = s["recovery_fen"]
        out["loss_fen"] = s["loss_fen"]
    return out


def compare(champion: SimState, challenger: SimState, draws: int = 1000,
            seed: int = 0, *, since: date | None = None,
            platforms: tuple[Platform, Platform] | None = None) -> list[Comparison]:
    """Paired bootstrap over loans (the same world: each loan appears in both runs), 95 %
    percentile intervals of challenger minus champion, over the window from `since`.
    Recoveries and losses need the two runs' platforms."""
    a = per_loan_outcomes(champion, platforms[0] if platforms else None, since)
    b = per_loan_outcomes(challenger, platforms[1] if platforms else None, since)
    common = sorted(set(a["loan_id"]) & set(b["loan_id"]))
    a = a.set_index("loan_id").loc[common].reset_index()
    b = b.set_index("loan_id").loc[common].reset_index()
    n = len(common)
    with_money = platforms is not None
    full = np.arange(n, dtype=np.int64)[None, :]
    base_a = _metrics(_sums(a, full), with_money)
    base_b = _metrics(_sums(b, full), with_money)
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, n, size=(draws, n)) if n else np.zeros((draws, 0), dtype=np.int64)
    drawn_a = _metrics(_sums(a, idx), with_money)
    diff = {k: v - drawn_a[k] for k, v in _metrics(_sums(b, idx), with_money).items()}
    out = []
    for k in base_a:
        values = diff[k][~np.isnan(diff[k])]
        low, high = (np.percentile(values, [2.5, 97.5]) if len(values)
                     else (float("nan"), float("nan")))
        champion_value, challenger_value = float(base_a[k][0]), float(base_b[k][0])
        out.append(Comparison(k, champion_value, challenger_value,
                              challenger_value - champion_value, float(low), float(high)))
    return out
