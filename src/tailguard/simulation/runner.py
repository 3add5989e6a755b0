"""Running the world through the real platform, one business day at a time.

Each simulated day: the clock moves to the day; loans disbursed that day are booked in one
batch with `booking.book_applications` (their contract PDFs deferred to
`contract_documents.issue_missing_contracts`, which `issue_contracts` runs after the run);
the actions scheduled for the day run (late payments, bounced debits reversed with
`servicing.reverse_payment`, repossession proceeds); the loans with an instalment due today
are read from the platform's own state tables and each borrower decides (`behaviour`);
payments go through `servicing.post_payments` in one call per day, each with its idempotency
key; balloon options go through the services an operator would use (refinance and extension
as maker-checker approvals, trade-in and return as account changes with the appraisal);
loans 180 days past due are written off through an approval; then the end of day
(`batch.eod.run`) runs for the day, every day. At each month end the platform's loan states are
snapshotted for the report, and a checkpoint is written.

The checkpoint (a pickle next to the database, rewritten every day, with the month-end
snapshots in a second file rewritten at month ends) holds the simulator's own state: the next
day, what is scheduled, borrowers who have stopped paying, repossessions tried, snapshots,
balloon outcomes and signals. Random numbers are counter-based (`behaviour.uniforms`), so
there is no stream position to store. A run resumed from a checkpoint continues exactly as
the uninterrupted run would (a test says so). A day cut short by a crash is redone from the
start: its payments are posted in one call at the end of the day and replay by idempotency
key, bookings already made are skipped; a balloon option applied before the crash is not
applied twice (the loan no longer shows its balloon due), but an approval request left
pending by a crash between request and decision stays pending.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, select

from tailguard.batch import eod
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.clock import SHANGHAI, FixedClock
from tailguard.infra.db import tables
from tailguard.loans.events import Channel
from tailguard.loans.maturity import MaturityOption, extension_cap_months
from tailguard.services import approvals, contract_documents, servicing
from tailguard.services.booking import (
    LoanApplication,
    PartyIn,
    VehicleIn,
    book_applications,
    ensure_dealer,
)
from tailguard.services.loan_books import payment_id_for
from tailguard.services.platform import Platform
from tailguard.simulation import behaviour as bh
from tailguard.simulation.behaviour import BalloonChoice, Purpose
from tailguard.simulation.config import SimulationConfig
from tailguard.simulation.economy import load_geography
from tailguard.simulation.treatments import PlatformTreatments, Record
from tailguard.simulation.world import (
    World,
    catalogue_products,
    disbursement_date,
    generate_world,
    instalment_estimate,
    loan_id,
    person_name,
    rate,
    vehicle_value_fen,
)

I64 = npt.NDArray[np.int64]
ACTOR = "sim.servicing"
CHECKER = "sim.risk"
COLLECTOR = "sim.collections"
CHECKPOINT_VERSION = 2
EOD_CHUNK = 20_000
"""End-of-day chunk: a simulated book of up to this many loans is one chunk a day (the
platform's default, 5,000, bounds a production transaction; here fewer rounds of reads and
commits a day, the same accruals)."""
SIGNALS = ("gps-offline", "left-home-province", "gps-tampering")
EMPLOYERS = ("某公司", "个体经营", "网约车平台")


def loan_index(loan: str) -> int:
    return int(loan[3:])


@dataclass
class Counters:
    bookings: int = 0
    booking_refusals: int = 0
    payments: int = 0
    payment_refusals: int = 0
    reversals: int = 0
    prepayments: int = 0
    refinances: int = 0
    extensions: int = 0
    trade_ins: int = 0
    returns: int = 0
    repossessions: int = 0
    write_offs: int = 0
    service_refusals: int = 0
    eod_loan_days: int = 0
    seconds_booking: float = 0.0
    seconds_payments: float = 0.0
    seconds_eod: float = 0.0
    seconds_other: float = 0.0
    contracts: int = 0
    seconds_contracts: float = 0.0


@dataclass
class SimState:
    """The simulator's own state: everything a resumed run needs besides the database."""

    fingerprint: str
    start: date
    next_day: int
    stop_period: I64
    """Instalment number from which the borrower pays no more (-1: none)."""
    repossession_tried: npt.NDArray[np.bool_]
    left_province: npt.NDArray[np.bool_]
    distress_day: I64
    """Day index on which the platform first showed the loan at the repossession DPD (-1)."""
    pending: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    balloons: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    treatments: Record | None = None
    """What the platform's treatments reached, per loan (`simulation.treatments`)."""

    def schedule(self, day: int, action: tuple[Any, ...]) -> None:
        self.pending.setdefault(day, []).append(action)


def fingerprint(config: SimulationConfig, start: date) -> str:
    text = json.dumps({"config": config.to_dict(), "start": start.isoformat()}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_path_for(database_url: str) -> Path | None:
    """`<database file>.sim-checkpoint` for SQLite; None for a server database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    return Path(database_url[len(prefix):] + ".sim-checkpoint")


def month_index(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


class Simulation:
    """One configuration driven through one platform from `start` for `config.months`."""

    def __init__(self, platform: Platform, config: SimulationConfig, start: date,
                 checkpoint: Path | None = None, world: World | None = None,
                 defer_contracts: bool = True) -> None:
        if not isinstance(platform.clock, FixedClock):
            raise TypeError("the simulator moves the platform's clock: give it a FixedClock")
        self.platform = platform
        self.clock: FixedClock = platform.clock
        self.config = config
        self.start = start
        self.world = world or generate_world(config.loans, config.seed, start, config.months,
                                             config.world)
        self.end = _add_months(start, config.months)
        self.days = (self.end - start).days
        self.checkpoint = checkpoint
        self.defer_contracts = defer_contracts
        """Book without the contract PDF; `session.run` issues them after the run (a batch
        step, as for any bulk load). The figures do not depend on it."""
        self.products = catalogue_products(config.world)
        self.geo = load_geography()
        self.risk = bh.risk_odds(self.world, config.behaviour,
                                 np.arange(len(self.world), dtype=np.int64))
        self.booking_day_index = np.searchsorted(self.world.day, np.arange(self.days + 1))
        self._saved_snapshots = 0
        self.state = self._load_or_new()
        if self.state.treatments is None:
            self.state.treatments = Record.new(len(self.world))
        self.treatments = PlatformTreatments(platform, config, start, self.state.treatments)

    # -- state ----------------------------------------------------------------------------
    def _new_state(self) -> SimState:
        n = len(self.world)
        return SimState(fingerprint(self.config, self.start), self.start, 0,
                        np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool),
                        np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64))

    def _load_or_new(self) -> SimState:
        if self.checkpoint is not None and self.checkpoint.exists():
            with self.checkpoint.open("rb") as f:
                version, state, count = pickle.load(f)  # our own file, see save_checkpoint
            if version != CHECKPOINT_VERSION or state.fingerprint != fingerprint(
                    self.config, self.start):
                raise ValueError(f"{self.checkpoint} belongs to another simulation")
            assert isinstance(state, SimState)
            if count:
                with self._snapshot_path().open("rb") as f:
                    state.snapshots = pickle.load(f)[:count]
            self._saved_snapshots = count
            return state
        return self._new_state()

    def _snapshot_path(self) -> Path:
        assert self.checkpoint is not None
        return self.checkpoint.with_name(self.checkpoint.name + "-snapshots")

    def save_checkpoint(self) -> None:
        """The state after the day, written atomically. The month-end snapshots (the bulk of
        it, a row per loan per month) go to a file of their own, rewritten only when a month
        ends: the daily file holds how many of them belong to the state, so a snapshot file
        written just before a crash and ahead of the state is cut back on resume."""
        if self.checkpoint is None:
            return
        snapshots = self.state.snapshots
        if len(snapshots) != self._saved_snapshots:
            _write_atomically(self._snapshot_path(), snapshots)
            self._saved_snapshots = len(snapshots)
        _write_atomically(self.checkpoint, (CHECKPOINT_VERSION, replace(self.state, snapshots=[]),
                                            len(snapshots)))

    @property
    def finished(self) -> bool:
        return self.state.next_day >= self.days

    # -- the run --------------------------------------------------------------------------
    def run(self, stop_after_days: int | None = None,
            progress: Callable[[date], None] | None = None) -> SimState:
        if self.state.next_day == 0:
            self._dealers()
        ran = 0
        while not self.finished:
            if stop_after_days is not None and ran >= stop_after_days:
                break
            t = self.state.next_day
            day = self.start + timedelta(days=t)
            self._day(t, day)
            self.state.next_day = t + 1
            ran += 1
            if (day + timedelta(days=1)).day == 1 or self.finished:
                self._snapshot(day)
            self.save_checkpoint()  # after every day: a resume never redoes a finished day
            if progress is not None:
                progress(day)
        return self.state

    def issue_contracts(self, limit: int | None = None) -> int:
        """Issue the contracts booking deferred (`contract_documents.issue_missing_contracts`),
        timed apart from the run; returns how many were issued."""
        began = time.perf_counter()
        issued = len(contract_documents.issue_missing_contracts(self.platform, ACTOR, limit))
        self.state.counters.contracts += issued
        self.state.counters.seconds_contracts += time.perf_counter() - began
        return issued

    def _set_clock(self, day: date) -> None:
        self.clock.current = datetime(day.year, day.month, day.day, 18,
                                      tzinfo=SHANGHAI).astimezone(UTC)

    def _dealers(self) -> None:
        used = sorted(set(self.world.dealer.tolist()))
        for d in used:
            city = int(self.world.dealer_city[d])
            name = self.geo.city_names[city]
            ensure_dealer(self.platform, dealer_code(d), f"{name}第{d + 1}汽车销售服务有限公司",
                          str(self.geo.city_codes[city]))

    def _day(self, t: int, day: date) -> None:
        self._set_clock(day)
        began = time.perf_counter()
        self._book(t, day)
        self.state.counters.seconds_booking += time.perf_counter() - began
        began = time.perf_counter()
        payments: list[servicing.PaymentCommand] = []
        bounced: list[tuple[int, str]] = []
        for action in sorted(self.state.pending.pop(t, []), key=_action_key):
            self._action(t, day, action, payments)
        self._due(t, day, payments, bounced)
        self._recoveries(t, day)
        self.state.counters.seconds_other += time.perf_counter() - began
        began = time.perf_counter()
        self._post(payments)
        self.state.counters.seconds_payments += time.perf_counter() - began
        began = time.perf_counter()
        report = eod.run(self.platform, day, chunk_size=EOD_CHUNK)
        self.state.counters.eod_loan_days += report.loans
        self.state.counters.seconds_eod += time.perf_counter() - began
        self.treatments.after_eod(t, day)  # reminders, collections: the platform's own steps

    # -- booking --------------------------------------------------------------------------
    def application(self, i: int) -> LoanApplication:
        w = self.world
        geo = self.geo
        product = self.products.codes[int(w.product[i])]
        city = int(w.dealer_city[int(w.dealer[i])])
        residence = str(geo.county_codes[int(w.residence_county[i])])
        registration = str(geo.city_codes[int(w.registration_city[i])])
        employer_city = geo.city_names[int(w.employer_city[i])]
        balloon = int(w.balloon_bp[i])
        return LoanApplication(
            borrower=PartyIn(
                name=person_name(w, i), id_number=str(w.id_number[i]), phone=str(w.phone[i]),
                address=f"{residence} 某小区{i % 30 + 1}栋",
                residence_region_code=residence,
                employer=employer_city + EMPLOYERS[int(w.employment[i])],
            ),
            vehicle=VehicleIn(
                vin=str(w.vin[i]), condition="used" if w.used[i] else "new",
                energy="nev" if w.nev[i] else "fuel", price_fen=int(w.price_fen[i]),
                registration_office=f"{geo.city_names[int(w.registration_city[i])]}车管所",
                registration_region_code=registration,
            ),
            product_code=product,
            principal_fen=int(w.principal_fen[i]),
            annual_rate=rate(w, i),
            term_months=int(w.term[i]),
            disbursement_date=disbursement_date(w, i),
            dealer_id=dealer_code(int(w.dealer[i])),
            balloon_share=(_share(balloon) if self.products.balloon[int(w.product[i])]
                           else None),
            region_code=str(geo.city_codes[city]),
            loan_id=loan_id(i),
        )

    def _book(self, t: int, day: date) -> None:
        """The day's sales in one batch booking; loans a crashed run already booked are
        skipped. Contracts are left to `contract_documents.issue_missing_contracts` unless
        the simulation issues them at booking (`defer_contracts=False`)."""
        first, last = int(self.booking_day_index[t]), int(self.booking_day_index[t + 1])
        if first == last:
            return
        ids = [loan_id(i) for i in range(first, last)]
        with self.platform.engine.connect() as conn:
            existing = set(conn.execute(select(tables.loans.c.id).where(
                tables.loans.c.id.in_(ids))).scalars())
        applications = [self.application(i) for i in range(first, last)
                        if loan_id(i) not in existing]
        if not applications:
            return
        for result in book_applications(self.platform, ACTOR, applications,
                                         issue_contracts=not self.defer_contracts):
            if isinstance(result, str):
                self.state.counters.bookings += 1
            else:
                self.state.counters.booking_refusals += 1

    # -- reading the platform -------------------------------------------------------------
    def _due_rows(self, day: date, loans: list[str] | None = None,
                  due_today: bool = False) -> dict[str, dict[str, Any]]:
        """Per active loan with something owed today: what is owed (open instalments due up
        to today, penalty, less credit), months behind, dpd, whether its balloon is due.
        `due_today`: only loans with an open instalment falling due today (a few hundred a
        day, against every loan in arrears otherwise)."""
        i, s, ln = tables.installment_state, tables.loan_state, tables.loans
        owed = (i.c.principal_fen - i.c.principal_paid_fen + i.c.interest_fen
                - i.c.interest_paid_fen - i.c.interest_waived_fen + i.c.fee_fen - i.c.fee_paid_fen
                - i.c.fee_waived_fen)
        query = (
            select(i.c.loan_id, func.sum(owed).label("owed"),
                   func.sum(i.c.principal_fen - i.c.principal_paid_fen).label("principal"),
                   func.count().label("open"),
                   func.max(i.c.due_date).label("last_due"),
                   func.max(i.c.number).label("number"),
                   s.c.dpd, s.c.penalty_outstanding_fen, s.c.credit_balance_fen,
                   s.c.balloon_due_date, s.c.balloon_fen, s.c.principal_outstanding_fen)
            .join(s, s.c.loan_id == i.c.loan_id)
            .join(ln, ln.c.id == i.c.loan_id)
            .where(ln.c.status == "active", i.c.settled_on.is_(None), i.c.due_date <= day)
            .group_by(i.c.loan_id, s.c.dpd, s.c.penalty_outstanding_fen,
                      s.c.credit_balance_fen, s.c.balloon_due_date, s.c.balloon_fen,
                      s.c.principal_outstanding_fen)
            .order_by(i.c.loan_id)
        )
        if loans is not None:
            query = query.where(i.c.loan_id.in_(loans))
        if due_today:
            today = i.alias("due_today")
            query = query.where(i.c.loan_id.in_(select(today.c.loan_id).where(
                today.c.due_date == day, today.c.settled_on.is_(None))))
        with self.platform.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        result: dict[str, dict[str, Any]] = {}
        for r in rows:
            penalty = int(r["penalty_outstanding_fen"])
            arrears_principal = int(r["principal"])
            buffer = penalty + arrears_principal // 500 + 100 if r["dpd"] else 0
            result[r["loan_id"]] = {
                "owed": max(0, int(r["owed"]) + buffer - int(r["credit_balance_fen"])),
                "open": int(r["open"]), "last_due": _as_date(r["last_due"]),
                "number": int(r["number"]), "dpd": int(r["dpd"]),
                "balloon_due": _as_date(r["balloon_due_date"]),
                "balloon_fen": int(r["balloon_fen"]),
                "principal_outstanding": int(r["principal_outstanding_fen"]),
            }
        return result

    # -- what borrowers do ----------------------------------------------------------------
    def _pay(self, payments: list[servicing.PaymentCommand], loan: str, amount: int, day: date,
             key: str, channel: Channel = Channel.AUTO_DEBIT) -> None:
        if amount > 0:
            payments.append(servicing.PaymentCommand(loan, amount, day, channel, key))

    def _due(self, t: int, day: date, payments: list[servicing.PaymentCommand],
             bounced: list[tuple[int, str]]) -> None:
        rows = {k: r for k, r in self._due_rows(day, due_today=True).items()
                if r["last_due"] == day}
        if not rows:
            return
        cfg = self.config
        b, tr, seed = cfg.behaviour, cfg.treatments, cfg.seed
        loans = list(rows)
        idx = np.array([loan_index(x) for x in loans], dtype=np.int64)
        number = np.array([rows[x]["number"] for x in loans], dtype=np.int64)
        month = month_index(self.start, day)
        p_miss = bh.miss_probability(self.world, b, seed, idx, month)
        u = {p: bh.uniforms(seed, idx, number, p) for p in (
            Purpose.MISS, Purpose.RESCUE, Purpose.SELF_CURE, Purpose.CURE_DAY, Purpose.STOP,
            Purpose.PREPAY, Purpose.BOUNCE, Purpose.BOUNCE_REPAY, Purpose.CURE,
            Purpose.FALSE_SIGNAL, Purpose.SIGNAL_DAY)}
        miss = (u[Purpose.MISS] < p_miss) & ~bh.rescued(
            tr, u[Purpose.RESCUE], self.treatments.reminded(idx, t),
            self.treatments.incentivised(idx, t))
        behind = np.array([rows[x]["open"] - 1 for x in loans], dtype=np.int64)
        cure, partial = bh.cure_probability(b, tr, behind, self.treatments.contacted(idx, t))
        for k, loan in enumerate(loans):
            i = int(idx[k])
            row = rows[loan]
            key = f"{loan}:{row['number']}"
            stopped = 0 <= self.state.stop_period[i] <= row["number"]
            if row["balloon_due"] == day and row["balloon_fen"] > 0:
                self._balloon(t, day, i, loan, row, payments)
                continue
            if stopped:
                continue
            if row["dpd"] > 0 or behind[k] > 0:
                uc = u[Purpose.CURE][k]
                if uc < cure[k]:
                    self._pay(payments, loan, row["owed"], day, key + ":cure", Channel.APP)
                elif uc < cure[k] + partial[k]:
                    self._pay(payments, loan, self._one_instalment(row), day, key + ":part",
                              Channel.APP)
                continue
            if miss[k]:
                if u[Purpose.STOP][k] < b.stop_on_miss * min(float(self.risk[i]), 3.0):
                    self.state.stop_period[i] = row["number"]
                    self._signals_before_stop(t, i, row["number"])
                elif u[Purpose.SELF_CURE][k] < b.self_cure:
                    low, high = b.self_cure_days
                    later = low + int(u[Purpose.CURE_DAY][k] * (high - low + 1))
                    self.state.schedule(t + later, ("cure", i, f"{key}:late"))
                continue
            if u[Purpose.PREPAY][k] < b.prepay and row["open"] == 1:
                self._prepay(day, loan, key)
                continue
            self._pay(payments, loan, row["owed"], day, key)
            if self.world.gps[i] and u[Purpose.FALSE_SIGNAL][k] < b.signal_false_positive:
                kind = SIGNALS[int(u[Purpose.SIGNAL_DAY][k] * len(SIGNALS))]
                self.state.signals.append({"loan_id": loan, "day": day, "signal": kind,
                                           "before_stop": False})
            if u[Purpose.BOUNCE][k] < b.bounce:
                self.state.schedule(t + 2, ("reverse", i, key))
                if u[Purpose.BOUNCE_REPAY][k] < b.bounce_repay:
                    self.state.schedule(t + 3 + int(u[Purpose.CURE_DAY][k] * 5),
                                        ("cure", i, f"{key}:after-bounce"))

    @staticmethod
    def _one_instalment(row: dict[str, Any]) -> int:
        return int(row["owed"]) // max(1, int(row["open"]))

    def _signals_before_stop(self, t: int, i: int, number: int) -> None:
        """Signals a tracker would show between now and the first instalment not paid."""
        if not self.world.gps[i]:
            return
        b = self.config.behaviour
        chances = (b.signal_gps_offline, b.signal_left_province, b.signal_tampering)
        for k, (kind, chance) in enumerate(zip(SIGNALS, chances, strict=True)):
            u = bh.uniforms(self.config.seed, i, number * 4 + k, Purpose.SIGNAL)
            if float(u[()]) < chance:
                later = 1 + int(float(bh.uniforms(self.config.seed, i, number * 4 + k,
                                                  Purpose.SIGNAL_DAY)[()]) * 25)
                self.state.schedule(t + later, ("signal", i, kind))

    def _prepay(self, day: date, loan: str, key: str) -> None:
        try:
            quote = servicing.payoff_quote(self.platform, loan, day)
            if quote.total_fen > 0:
                servicing.settle_loan(self.platform, ACTOR, loan, quote.total_fen, Channel.APP,
                                      f"{key}:payoff")
                self.state.counters.prepayments += 1
        except (InvalidInput, Refused, NotFound):
            self.state.counters.service_refusals += 1

    def _action(self, t: int, day: date, action: tuple[Any, ...],
                payments: list[servicing.PaymentCommand]) -> None:
        kind, i = action[0], int(action[1])
        loan = loan_id(i)
        if kind == "cure":
            rows = self._due_rows(day, [loan])
            if loan in rows and not 0 <= self.state.stop_period[i] <= rows[loan]["number"]:
                self._pay(payments, loan, rows[loan]["owed"], day, action[2], Channel.APP)
        elif kind == "reverse":
            try:
                servicing.reverse_payment(
                    self.platform, ACTOR, loan, payment_id_for(action[2]),
                    "auto-debit returned: insufficient funds", f"{action[2]}:bounce")
                self.state.counters.reversals += 1
            except (Refused, NotFound, InvalidInput):
                self.state.counters.service_refusals += 1
        elif kind == "signal":
            self.state.signals.append({"loan_id": loan, "day": day, "signal": action[2],
                                       "before_stop": True})
            if action[2] == "left-home-province":
                self.state.left_province[i] = True
        elif kind == "recover":
            self._recover(day, i, loan)
        elif kind == "balloon-check":
            self._balloon_check(day, i, loan, action[2])

    # -- the balloon ----------------------------------------------------------------------
    def _balloon(self, t: int, day: date, i: int, loan: str, row: dict[str, Any],
                 payments: list[servicing.PaymentCommand]) -> None:
        cfg = self.config
        w = self.world
        balloon = int(row["balloon_fen"])
        value = int(vehicle_value_fen(w, np.array([i]), day)[0])
        savings = float(w.savings_months[i]) * float(w.income_fen[i])
        account = servicing.load_account(self.platform, loan)
        stopped = 0 <= self.state.stop_period[i] <= row["number"]
        delinquent = row["dpd"] > 0 or row["open"] > 1
        product = account.product
        owed = servicing.payoff_quote(self.platform, loan, day).total_fen
        choice = bh.balloon_choice(
            cfg.behaviour, cfg.treatments,
            float(bh.uniforms(cfg.seed, i, row["number"], Purpose.BALLOON)[()]),
            float(bh.uniforms(cfg.seed, i, row["number"], Purpose.OFFER)[()]),
            equity_ratio=(value - balloon) / max(balloon, 1), liquid=savings >= balloon,
            delinquent=delinquent or stopped, can_refinance=not delinquent,
            can_extend=not delinquent and extension_cap_months(account) >= 6,
            can_return=product.maturity.allows_vehicle_return,
            can_trade_in=value >= owed, risk=float(self.risk[i]),
            offered=self.treatments.offered(i, t),
        )
        if stopped and choice is not BalloonChoice.RETURN:
            choice = BalloonChoice.DEFAULT
        self.state.schedule(t + 30, ("balloon-check", i, {
            "due": day, "choice": choice.name.lower(), "balloon_fen": balloon,
            "value_fen": value}))
        key = f"{loan}:balloon"
        try:
            if choice is BalloonChoice.SETTLE:
                self._pay(payments, loan, row["owed"], day, key, Channel.BANK_TRANSFER)
            elif choice in (BalloonChoice.REFINANCE, BalloonChoice.EXTEND):
                months = (12, 24, 36)[int(float(bh.uniforms(cfg.seed, i, 0, Purpose.REFI_TERM)[
                    ()]) * 3)]
                action = "refinance"
                if choice is BalloonChoice.EXTEND:
                    action, months = "extend", min(12, extension_cap_months(account))
                request = approvals.request_approval(self.platform, ACTOR, action, loan,
                                                     {"months": months})
                approvals.decide(self.platform, CHECKER, request.approval_id, True)
                if action == "refinance":
                    self.state.counters.refinances += 1
                else:
                    self.state.counters.extensions += 1
                after = self._due_rows(day, [loan])
                if loan in after:
                    self._pay(payments, loan, after[loan]["owed"], day, key)
            elif choice in (BalloonChoice.TRADE_IN, BalloonChoice.RETURN):
                option = (MaturityOption.TRADE_IN if choice is BalloonChoice.TRADE_IN
                          else MaturityOption.RETURN_VEHICLE)

                servicing.dispose_vehicle(self.platform, ACTOR, loan, option, value, 12)
                if choice is BalloonChoice.TRADE_IN:
                    self.state.counters.trade_ins += 1
                else:
                    self.state.counters.returns += 1
            else:
                self.state.stop_period[i] = row["number"]
                self._signals_before_stop(t, i, row["number"])
        except (Refused, InvalidInput, NotFound):
            self.state.counters.service_refusals += 1

    def _balloon_check(self, day: date, i: int, loan: str, info: dict[str, Any]) -> None:
        """30 days after the balloon: cleared if the platform shows the loan paid off,
        closed, or its balloon moved into a new schedule (refinanced or extended)."""
        ln, s, v = tables.loans, tables.loan_state, tables.schedule_versions
        with self.platform.engine.connect() as conn:
            status = conn.execute(select(ln.c.status).where(ln.c.id == loan)).scalar_one()
            paid_off = conn.execute(select(s.c.paid_off).where(s.c.loan_id == loan)
                                    ).scalar_one()
            moved = conn.execute(select(func.count()).select_from(v).where(and_(
                v.c.loan_id == loan, v.c.reason.like("balloon:%")))).scalar_one()
        cleared = bool(paid_off) or status == "closed" or bool(moved)
        self.state.balloons.append({
            "loan_id": loan, "due": info["due"], "checked": day, "choice": info["choice"],
            "balloon_fen": info["balloon_fen"], "value_fen": info["value_fen"],
            "status": status, "cleared": cleared})

    # -- default, repossession and write-off ----------------------------------------------
    def _recoveries(self, t: int, day: date) -> None:
        b = self.config.behaviour
        s, ln = tables.loan_state, tables.loans
        with self.platform.engine.connect() as conn:
            rows = conn.execute(
                select(s.c.loan_id, s.c.dpd).join(ln, ln.c.id == s.c.loan_id)
                .where(ln.c.status == "active", s.c.dpd >= b.repossession_dpd)
                .order_by(s.c.loan_id)).all()
        for loan, dpd in rows:
            i = loan_index(loan)
            if dpd >= b.write_off_dpd:
                self._write_off(loan)
                continue
            if self.state.repossession_tried[i]:
                continue
            self.state.repossession_tried[i] = True
            self.state.distress_day[i] = t
            chance = (b.repossession_success_gps if self.world.gps[i]
                      else b.repossession_success_no_gps)
            if self.state.left_province[i]:
                chance *= b.left_province_factor
            u = float(bh.uniforms(self.config.seed, i, 0, Purpose.REPOSSESS)[()])
            if u < chance:
                self.state.schedule(t + 10 + int(u / chance * 30), ("recover", i))

    def _recover(self, day: date, i: int, loan: str) -> None:
        b = self.config.behaviour
        with self.platform.engine.connect() as conn:
            row = conn.execute(select(tables.loans.c.status, tables.loan_state.c
                                      .principal_outstanding_fen, tables.loan_state.c.dpd)
                               .join(tables.loan_state,
                                     tables.loan_state.c.loan_id == tables.loans.c.id)
                               .where(tables.loans.c.id == loan)).one()
        if row[0] != "active" or row[2] == 0:  # closed, or cured before the car was taken
            return
        value = int(vehicle_value_fen(self.world, np.array([i]), day)[0])
        net = int(value * (1 - b.auction_discount)) - int(row[1] * b.repossession_cost)
        net = net // 100 * 100
        try:
            quote = servicing.payoff_quote(self.platform, loan, day)
            if net >= quote.total_fen > 0:  # the sale pays everything: the loan is settled
                servicing.settle_loan(self.platform, COLLECTOR, loan, quote.total_fen,
                                      Channel.BANK_TRANSFER, f"{loan}:recovery")
                self.state.counters.repossessions += 1
                return
            if net > 0:
                servicing.post_payment(self.platform, COLLECTOR, loan, net, day,
                                       Channel.BANK_TRANSFER, f"{loan}:recovery")
                self.state.counters.repossessions += 1
        except (Refused, InvalidInput, NotFound):
            self.state.counters.service_refusals += 1
        self._write_off(loan)  # the car is sold: what the sale did not cover is written off

    def _write_off(self, loan: str) -> None:
        try:
            request = approvals.request_approval(self.platform, COLLECTOR, "write-off", loan,
                                                 {})
            approvals.decide(self.platform, CHECKER, request.approval_id, True)
            self.state.counters.write_offs += 1
        except (Refused, InvalidInput, NotFound):
            self.state.counters.service_refusals += 1

    # -- posting --------------------------------------------------------------------------
    def _post(self, payments: list[servicing.PaymentCommand]) -> None:
        if not payments:
            return
        seen: set[str] = set()
        unique = []
        for p in payments:
            if p.idempotency_key not in seen:
                seen.add(p.idempotency_key)
                unique.append(p)
        for result in servicing.post_payments(self.platform, ACTOR, unique):
            if isinstance(result, Exception) or result.status != "posted":
                self.state.counters.payment_refusals += 1
            else:
                self.state.counters.payments += 1

    # -- month-end snapshots --------------------------------------------------------------
    def _snapshot(self, day: date) -> None:
        s, ln = tables.loan_state, tables.loans
        with self.platform.engine.connect() as conn:
            rows = conn.execute(
                select(ln.c.id, ln.c.status, s.c.dpd, s.c.principal_outstanding_fen,
                       s.c.paid_off)
                .join(s, s.c.loan_id == ln.c.id).where(ln.c.id.like("SIM%"))
                .order_by(ln.c.id)).all()
        self.state.snapshots.append({
            "month_end": day,
            "loan_id": [r[0] for r in rows],
            "status": [r[1] for r in rows],
            "dpd": [int(r[2]) for r in rows],
            "principal_outstanding_fen": [int(r[3]) for r in rows],
            "paid_off": [bool(r[4]) for r in rows],
        })


def _write_atomically(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def dealer_code(d: int) -> str:
    return f"SIM-D{d:05d}"


def _share(bp: int) -> Any:
    from decimal import Decimal

    return Decimal(bp) / Decimal(10_000)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _action_key(action: tuple[Any, ...]) -> tuple[int, str, str]:
    return (int(action[1]), str(action[0]), str(action[2]) if len(action) > 2 and isinstance(
        action[2], str) else "")


def _add_months(start: date, months: int) -> date:
    from tailguard.calendar import add_months

    return add_months(start, months)


__all__ = ["SimState", "Simulation", "checkpoint_path_for", "instalment_estimate"]
