"""Behavioural scores: read the loans' facts column-wise, score them with the registered
behavioural models, store the scores; and read the latest score back for the rules, the
balloon watch and the collection strategies.

`refresh_scores(platform, as_of)` runs after the end of day (batch/schedule.py and `tailguard
risk refresh-scores`). It scores every active loan with the `dpd30-90d` model and every
active loan whose balloon falls due within 121 days with the `balloon-30d` model. Scoring all
active loans rather than only those whose state changed keeps the rule simple (a score also
ages: months on book, days to the balloon) and is cheap: a fixed number of set-wise queries per
chunk of 5,000 loans, numpy features, the scorecard arithmetic (docs/risk.md has the
measured cost). The day's scores are written in one unit of work with the audit row and a
`BehaviouralScoresRefreshed` event; a rerun for the same day replaces that day's rows.

The models are model directories (`risk.registry`); by default the ones shipped in
`tailguard/risk/data/behavioural/`, trained on a simulated portfolio by
`tailguard risk train-behavioural`. A directory can be given instead (`model_dirs`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, and_, delete, func, select, true

from tailguard.infra.db import bulk, tables
from tailguard.infra.db.tables_monitoring import signals as signal_table
from tailguard.infra.db.tables_risk import behavioural_scores
from tailguard.risk import behavioural_models as names
from tailguard.services.platform import Platform

if TYPE_CHECKING:
    import pandas as pd

CHUNK = 5000
BALLOON_WINDOW_DAYS = names.BALLOON_STAGES[0] + 1
"""Balloon loans scored: due within 121 days of `as_of`, so that the next day's balloon watch
(120 days ahead of the day after `as_of`) finds a score for every loan it lists."""
ACTOR = "behavioural-scores"


def shipped_model_dir(model: str) -> Path:
    """The model directory shipped with the package for `model`."""
    return Path(str(resources.files("tailguard.risk").joinpath("data", "behavioural", model)))


_MODELS: dict[tuple[str, float], Any] = {}


def load_registered(directory: Path) -> Any:
    """A model directory, loaded once per process (and again when its manifest changes)."""
    from tailguard.risk.registry import load_model

    key = (str(directory), (directory / "manifest.json").stat().st_mtime)
    if key not in _MODELS:
        _MODELS[key] = load_model(directory)
    return _MODELS[key]


# -- facts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """The inputs `risk.behavioural.features` takes (see its docstring for the columns)."""

    loans: pd.DataFrame
    instalments: pd.DataFrame
    bounces: pd.DataFrame
    signals: pd.DataFrame


def _chunks(ids: Sequence[str] | None) -> Iterable[Sequence[str] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), 1000):
        yield ids[start:start + 1000]


def load_facts(conn: Connection, loan_ids: Sequence[str] | None = None) -> Facts:
    """The loans' static columns, instalment dates, bounced debits and telematics signals,
    one set-wise query per table and 1,000 loans (all loans when `loan_ids` is None)."""
    import pandas as pd
    ln, pt, vh = tables.loans, tables.parties, tables.vehicles
    inst, ev = tables.installment_state, tables.loan_events
    loan_rows: list[Any] = []
    inst_rows: list[Any] = []
    bounce_rows: list[Any] = []
    signal_rows: list[Any] = []
    for chunk in _chunks(loan_ids):
        def only(column: Any, ids: Sequence[str] | None = chunk) -> Any:
            return column.in_(ids) if ids is not None else true()

        loan_rows += conn.execute(
            select(ln.c.id, ln.c.disbursement_date, ln.c.term_months, ln.c.principal_fen,
                   vh.c.price_fen, ln.c.vehicle_used, vh.c.energy, ln.c.region_code,
                   pt.c.residence_region_code, pt.c.id_region_code, pt.c.birth_date)
            .select_from(ln.join(pt, pt.c.id == ln.c.borrower_id)
                         .outerjoin(vh, vh.c.id == ln.c.vehicle_id))
            .where(only(ln.c.id))).all()
        inst_rows += conn.execute(
            select(inst.c.loan_id, inst.c.due_date, inst.c.grace_end, inst.c.settled_on)
            .where(only(inst.c.loan_id))).all()
        bounce_rows += conn.execute(
            select(ev.c.loan_id, ev.c.value_date)
            .where(only(ev.c.loan_id), ev.c.kind == "reversal")).all()
        signal_rows += conn.execute(
            select(signal_table.c.loan_id, signal_table.c.occurred_at, signal_table.c.kind)
            .where(only(signal_table.c.loan_id),
                   signal_table.c.kind.in_(names.TELEMATICS_KINDS))).all()
    loans = _frame(loan_rows, [
        "loan_id", "disbursement_date", "term_months", "principal_fen", "price_fen",
        "vehicle_used", "energy", "region_code", "residence_region_code", "id_region_code",
        "birth_date"])
    for column in ("price_fen", "principal_fen", "term_months"):
        loans[column] = pd.to_numeric(loans[column], errors="coerce")
    loans["vehicle_used"] = loans["vehicle_used"].astype(bool)
    loans["vehicle_nev"] = (loans.pop("energy") == "nev").astype(bool)
    signals = _frame(signal_rows, ["loan_id", "occurred_at", "kind"])
    signals["day"] = [_shanghai_day(v) for v in signals["occurred_at"]]
    return Facts(
        loans,
        _frame(inst_rows, ["loan_id", "due_date", "grace_end", "settled_on"]),
        _frame(bounce_rows, ["loan_id", "value_date"]),
        signals[["loan_id", "day", "kind"]],
    )


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame, column by column (handing pandas the Row objects themselves costs
    several times more: it probes each one for attributes)."""
    import pandas as pd

    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(columns, values,
                                                                       strict=True)})


def _shanghai_day(moment: datetime) -> date:
    from zoneinfo import ZoneInfo

    if moment.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date()


def current_observations(conn: Connection, as_of: date) -> pd.DataFrame:
    """Every active loan not paid off, with its state as the end of day left it."""
    import pandas as pd
    ln, st = tables.loans, tables.loan_state
    rows = conn.execute(
        select(ln.c.id, st.c.dpd, st.c.principal_outstanding_fen, st.c.balloon_fen,
               st.c.balloon_due_date)
        .join(st, st.c.loan_id == ln.c.id)
        .where(ln.c.status == "active", st.c.paid_off.is_(False))
        .order_by(ln.c.id)).all()
    frame = _frame(rows, ["loan_id", "dpd", "principal_outstanding_fen", "balloon_fen",
                          "balloon_due_date"])
    for column in ("dpd", "principal_outstanding_fen", "balloon_fen"):
        frame[column] = pd.to_numeric(frame[column])
    frame.insert(1, "as_of", pd.Timestamp(as_of))
    return frame


# -- scoring -------------------------------------------------------------------------------
@dataclass
class RefreshReport:
    as_of: date
    scored: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "scored": self.scored,
                "versions": self.versions, "seconds": round(self.seconds, 3)}


def refresh_scores(platform: Platform, as_of: date,
                   model_dirs: Mapping[str, Path] | None = None) -> RefreshReport:
    """Score the active loans as of `as_of` (after its end of day) and store the scores."""
    import pandas as pd

    from tailguard.risk import behavioural as bh
    began = time.perf_counter()
    report = RefreshReport(as_of)
    dirs = {m: (model_dirs or {}).get(m, shipped_model_dir(m)) for m in names.MODELS}
    registered = {m: load_registered(d) for m, d in dirs.items()}
    for m, r in registered.items():
        report.versions[m] = str(r.manifest["version"])
        report.scored[m] = 0
    with platform.engine.connect() as conn:
        observations = current_observations(conn, as_of)
    recorded = platform.clock.now()
    horizon = pd.Timestamp(as_of) + pd.Timedelta(days=BALLOON_WINDOW_DAYS)
    written: list[dict[str, Any]] = []
    for start in range(0, len(observations), CHUNK):
        obs = observations.iloc[start:start + CHUNK].reset_index(drop=True)
        ids = obs["loan_id"].tolist()
        with platform.engine.connect() as conn:
            facts = load_facts(conn, ids)
        rows = bh.features(obs, facts.loans, facts.instalments, facts.bounces, facts.signals)
        due = pd.to_datetime(obs["balloon_due_date"])
        in_window = ((obs["balloon_fen"].fillna(0) > 0) & due.notna()
                     & (due >= pd.Timestamp(as_of)) & (due <= horizon)).to_numpy()
        for m, reg in registered.items():
            mask = in_window if m == bh.BALLOON_MODEL else np.ones(len(obs), dtype=bool)
            if not mask.any():
                continue
            scored = bh.score_rows(reg.model, rows[mask].reset_index(drop=True))
            for k, loan in enumerate(np.asarray(ids, dtype=object)[mask]):
                written.append({
                    "loan_id": loan, "model": m, "as_of": as_of,
                    "model_version": report.versions[m], "pd": round(float(scored.pd[k]), 6),
                    "score": round(float(scored.score[k]), 1), "band": str(scored.band[k]),
                    "reasons": scored.reasons[k][:200], "recorded_at": recorded})
            report.scored[m] += int(mask.sum())
    report.seconds = time.perf_counter() - began
    # one transaction: the day's scores replaced, with the audit row and the event
    with platform.uow(ACTOR) as uow:
        conn = uow.connection
        conn.execute(delete(behavioural_scores).where(behavioural_scores.c.as_of == as_of))
        bulk.insert_rows(conn, "behavioural_scores",
                         ("loan_id", "model", "as_of", "model_version", "pd", "score", "band",
                          "reasons", "recorded_at"), written)
        uow.audit("risk.behavioural.refresh", "behavioural_scores", as_of.isoformat(),
                  report.to_dict())
        uow.emit("BehaviouralScoresRefreshed", None, report.to_dict(), as_of)
        uow.commit()
    return report


# -- reading the latest scores -------------------------------------------------------------
def latest_scores(conn: Connection, loan_ids: Sequence[str], model: str,
                  on_or_before: date | None = None) -> dict[str, dict[str, Any]]:
    """Per loan, the newest stored score of `model` (on or before a day, when given):
    {loan_id: {pd, score, band, reasons, as_of, model_version}}; loans never scored are
    absent."""
    b = behavioural_scores
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(loan_ids), 1000):
        chunk = list(loan_ids[start:start + 1000])
        cond = [b.c.model == model, b.c.loan_id.in_(chunk)]
        if on_or_before is not None:
            cond.append(b.c.as_of <= on_or_before)
        newest = (select(b.c.loan_id, func.max(b.c.as_of).label("as_of"))
                  .where(*cond).group_by(b.c.loan_id).subquery())
        rows = conn.execute(
            select(b.c.loan_id, b.c.as_of, b.c.model_version, b.c.pd, b.c.score, b.c.band,
                   b.c.reasons)
            .join(newest, and_(newest.c.loan_id == b.c.loan_id, newest.c.as_of == b.c.as_of))
            .where(b.c.model == model)).all()
        for r in rows:
            out[r.loan_id] = {"pd": float(r.pd), "score": float(r.score), "band": r.band,
                              "reasons": r.reasons, "as_of": r.as_of,
                              "model_version": r.model_version}
    return out


def scores_history(conn: Connection, model: str, start: date, end: date) -> pd.DataFrame:
    """Stored scores of `model` with as_of in [start, end], for monitoring."""
    import pandas as pd
    b = behavioural_scores
    rows = conn.execute(select(b.c.loan_id, b.c.as_of, b.c.pd, b.c.score, b.c.band)
                        .where(b.c.model == model, b.c.as_of >= start, b.c.as_of <= end)
                        .order_by(b.c.as_of, b.c.loan_id)).all()
    return pd.DataFrame(rows, columns=["loan_id", "as_of", "pd", "score", "band"])


__all__ = ["Facts", "RefreshReport", "current_observations", "latest_scores", "load_facts",
           "refresh_scores", "scores_history", "shipped_model_dir"]
