"""The lender's treatments, done by the platform's own services, and a record of whom they reached.

A behavioural effect in `behaviour.py` may only touch a borrower the platform actually treated,
so the simulator does not decide who was reminded or called: after each simulated end of day
it runs what `tailguard serve` runs after its end of day (`batch/schedule.py`), for the
treatments the configuration switches on, and reads back from the platform's records what was
done to which loan:

- collections (`Treatments.strategy`): `recovery_cases.recovery_eod` for the day (promises,
  cases opened and closed, the active strategy assigned to every delinquent loan). The
  strategy is data, stored with `recovery_strategies.save_strategy` before the first day
  treated: `plain` (`PLAIN_STRATEGY`) or `default` (`DEFAULT_CHAMPION`: the platform's
  built-in strategy, champion paths for all). The simulator then acts as
  the collector, the next morning at 11:00 (Beijing time): for every loan whose assigned step
  is new (or, for a call, not tried for a week) it performs the step through the services a
  collector uses: a call, a lawyer's letter or a field visit is `recovery_cases.contact`
  (the contact policy decides; an allowed call connects with `Behaviour.call_connect`, drawn
  from the counter-based uniforms); a `reminder` step queues an overdue notice by SMS
  (`notifications.queue_message`). Agency placement, legal action, repossession and
  restructure offers are not performed here (the runner keeps its own repossession rule).
- reminders (`Treatments.reminders`): `notifications.queue_due_reminders` for the next day,
  as `serve` does after midnight, then `notifications.deliver_due` at 11:00 through sandbox
  channel adapters (whatever the settings say: the simulator never sends a real message) with
  no rate limit (simulated time does not pass during a delivery round).
- offers (`Treatments.offers`): `offers.offers_end_of_day` after the end of day, and the next
  morning `offers.offer_balloon_options` (no holdout) for loans whose balloon falls due within
  `OFFER_LEAD_DAYS`, once per loan; its messages go out in the same delivery round.
- incentives (`Treatments.incentives`): `INCENTIVE_PROGRAMMES` stored once, then
  `incentives.evaluate_incentives` after each end of day (awards booked by the service).

What comes back, per loan (numpy arrays, kept in the checkpoint):

- `reminded_due`: the due date (day index) of the last pre-due reminder delivered on a channel
  that reaches the borrower (SMS, e-mail, WeChat); an in-app inbox message alone does not
  count, since the evidence (Cadena & Schoar 2011) is for SMS. A reminder the contact policy
  blocked (opt-out, do-not-contact) or deferred past the due date is not there.
- `contacted_day`: the last day a collection contact was allowed and made (a connected call,
  a letter sent, a visit made). The collections effect applies to a cure decision at a due
  date within `CONTACT_WINDOW_DAYS` of it.
- `offered_day`: the first day a balloon offer of the platform's (`offers.offer_balloon_options`,
  sent within `OFFER_LEAD_DAYS` of the balloon) was delivered to the borrower on any channel;
  the balloon-offer effect applies at the balloon only then.
- `incentive_day`: never set (see `INCENTIVE_PROGRAMMES`): the incentive programmes run and
  book their awards, but the platform announces a programme only with its award.

Cost: the services do per-message and per-contact units of work (the contact policy logs each
decision in its own transaction); the rest (reading assignments, choosing what to do, reading
back what was delivered) is column-wise. `Record.seconds` and `Record.days` give the overhead
per treated day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from tailguard.engagement.channels import MessageChannel
from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.channels import SandboxChannel
from tailguard.infra.clock import SHANGHAI, FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import messages
from tailguard.infra.db.tables_recovery import recovery_assignments
from tailguard.recovery.strategy import DEFAULT_STRATEGY, Strategy
from tailguard.services import (
    incentives,
    notifications,
    offers,
    recovery_cases,
    recovery_strategies,
)
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.simulation import behaviour as bh
from tailguard.simulation.config import SimulationConfig

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

COLLECTOR = Actor("sim.collector", "collector")
STRATEGY_AUTHOR = "sim.risk"
WORK_HOUR = 11
"""Collectors work and messages go out at 11:00 Beijing time: inside the allowed hours
(08:00–22:00) in every Chinese time zone the contact policy may give (Urumqi is two hours
behind)."""
CALL_REPEAT_DAYS = 7
"""A collector calls again after a week while the loan stays at a call step."""
CONTACT_WINDOW_DAYS = 31
"""A contact made within this many days before a due date counts for its cure decision (the
runner decides cures monthly, at due dates)."""
REACHING = (Channel.SMS.value, Channel.EMAIL.value, Channel.WECHAT.value)
CONTACTS = {"call": Channel.CALL, "lawyer-letter": Channel.LETTER,
            "field-visit": Channel.FIELD_VISIT}
"""Strategy actions the simulated collector performs as contacts, and their channel."""
PERFORMED = ("reminder", *CONTACTS)
DELIVERY_BATCH = 500
OFFER_LEAD_DAYS = 60
"""Balloon options are offered once, to loans whose balloon falls due within 60 days (the
platform's balloon watch milestone; its offer window opens at 120)."""
OFFER_ACTOR = "sim.offers"
INCENTIVE_PROGRAMMES: tuple[dict[str, Any], ...] = (
    {"id": "sim-on-time-6", "kind": "on-time-streak", "streak": 6, "amount_fen": 5_000,
     "holdout": "0"},
    {"id": "sim-early-balloon", "kind": "balloon-early-settlement", "days_early": 60,
     "share_of_interest": "0.05", "max_fen": 200_000, "holdout": "0"},
)
"""tailguard's incentives in the simulator (amounts are assumptions): 50 yuan for six on-time
instalments in a row; 5 % of the interest paid (at most 2,000 yuan) for settling 60 days
before the balloon. The platform tells a borrower of a programme only when it awards it, so
no borrower acts on an incentive in advance: the awards are booked (their cost is real) but
`incentive_day` stays unset and the incentive effect never applies."""

PLAIN_STRATEGY: dict[str, Any] = {
    "name": "plain",
    "salt": "plain-1",
    "default_path": "plain",
    "holdout_path": "plain",
    "challenger_share": "0",
    "holdout_share": "0",
    "score_bands": [],
    "paths": {"plain": [{"action": "reminder", "at_dpd": 1}, {"action": "call", "at_dpd": 5}]},
    "segments": [],
}
"""Issue 8's plain collections: an overdue reminder at 1 and calls from 5 days past due, the
same for every borrower (no segments, no score, no region, no challenger or holdout)."""
DEFAULT_CHAMPION: dict[str, Any] = {**DEFAULT_STRATEGY, "name": "default-champion",
                                    "challenger_share": "0", "holdout_share": "0"}
"""The platform's default strategy with its champion paths for every borrower. Its own
champion/challenger arms are off in the simulator: the simulator's comparison (two runs of one
world) is the champion/challenger here. (The arms would fall the same way in both runs: the
platform draws a borrower's arm from the party id, which booking derives from the loan id the
simulator chooses.)"""
STRATEGY_DEFINITIONS = {"plain": PLAIN_STRATEGY, "default": DEFAULT_CHAMPION}
for _definition in STRATEGY_DEFINITIONS.values():
    Strategy.parse(_definition)  # valid data, or the import fails


@dataclass
class Record:
    """What the platform did, per loan (day indexes from the simulation start, -1: never),
    plus counts for the report."""

    reminded_due: I64
    contacted_day: I64
    offered_day: I64
    incentive_day: I64
    performed_case: I64
    performed_step: I64
    performed_day: I64
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    days: int = 0
    strategy_saved: bool = False
    offer_tried: I64 | None = None
    """Day the balloon options were offered to the loan (-1: not yet); None in checkpoints
    written before offers existed."""
    programmes_saved: bool = False

    @classmethod
    def new(cls, n: int) -> Record:
        def never() -> I64:
            return np.full(n, -1, dtype=np.int64)

        return cls(never(), never(), never(), never(), never(), never(), never())

    def add(self, key: str, value: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + value

    def summary(self) -> dict[str, Any]:
        """What was done (deterministic for a seed: no timings)."""
        out: dict[str, Any] = {f"treat_{k}": v for k, v in sorted(self.counts.items())}
        out["treat_days"] = self.days
        return out

    def timing(self) -> dict[str, Any]:
        """Wall-clock overhead of the treatments (not part of the reproducible figures)."""
        return {"treated_days": self.days, "seconds": round(self.seconds, 1),
                "ms_per_treated_day": round(1000 * self.seconds / self.days, 1)
                if self.days else 0.0}


def sandbox_channels() -> dict[Channel, MessageChannel]:
    return {c: SandboxChannel(c) for c in (Channel.SMS, Channel.EMAIL, Channel.WECHAT)}


def loan_indexes(ids: list[str]) -> I64:
    """`SIM0000042` → 42, column-wise."""
    if not ids:
        return np.zeros(0, dtype=np.int64)
    return np.array([int(x[3:]) for x in ids], dtype=np.int64)


class PlatformTreatments:
    """Runs the configured treatments after each simulated end of day and answers, per loan,
    whether a treatment reached it."""

    def __init__(self, platform: Platform, config: SimulationConfig, start: date,
                 record: Record) -> None:
        if not isinstance(platform.clock, FixedClock):
            raise TypeError("the simulator moves the platform's clock: give it a FixedClock")
        self.platform = platform
        self.clock: FixedClock = platform.clock
        self.config = config
        self.start = start
        self.record = record
        self.channels = sandbox_channels()
        t = config.treatments
        self.enabled = t.reminders or t.strategy is not None or t.offers or t.incentives
        from tailguard.calendar import add_months

        self.first_day = (add_months(start, t.from_month) - start).days

    # -- flags the runner passes to behaviour ----------------------------------------------
    def reminded(self, idx: I64, t: int) -> B:
        """A reminder for the due date `t` was delivered to the borrower before it."""
        return np.asarray(self.record.reminded_due[idx] == t, dtype=bool)

    def contacted(self, idx: I64, t: int) -> B:
        """A collection contact was allowed and made within the window before day `t`."""
        last = self.record.contacted_day[idx]
        return np.asarray((last >= 0) & (t - last <= CONTACT_WINDOW_DAYS), dtype=bool)

    def incentivised(self, idx: I64, t: int) -> B:
        day = self.record.incentive_day[idx]
        return np.asarray((day >= 0) & (day <= t), dtype=bool)

    def offered(self, i: int, t: int) -> bool:
        day = int(self.record.offered_day[i])
        return 0 <= day <= t

    # -- the platform's post-end-of-day steps ----------------------------------------------
    def after_eod(self, t: int, day: date) -> None:
        """After the end of day `t` (= `day`): collections for the day, then the next
        morning's deliveries and collector work. Leaves the clock at that morning."""
        if not self.enabled or t + 1 < self.first_day:
            return
        began = time.perf_counter()
        treat = self.config.treatments
        if treat.strategy is not None and not self.record.strategy_saved:
            recovery_strategies.save_strategy(self.platform, STRATEGY_AUTHOR,
                                              STRATEGY_DEFINITIONS[treat.strategy])
            self.record.strategy_saved = True
        if treat.strategy is not None:
            report = recovery_cases.recovery_eod(self.platform, day)
            self.record.add("cases_opened", int(report["opened"]))
        if treat.offers:
            swept = offers.offers_end_of_day(self.platform, day)
            self.record.add("offers_expired", swept["expired"])
        if treat.incentives:
            self._incentives(t, day)
        morning = day + timedelta(days=1)
        moment = datetime(morning.year, morning.month, morning.day, WORK_HOUR,
                          tzinfo=SHANGHAI).astimezone(UTC)
        self.clock.current = moment
        if treat.strategy is not None:
            self._collect(t + 1)
        if treat.reminders:
            queued = notifications.queue_due_reminders(self.platform, morning)
            self.record.add("messages_queued", queued.new)
        if treat.offers:
            self._offer(t + 1, morning)
        if self.enabled:
            self._deliver(t + 1)
        self.record.days += 1
        self.record.seconds += time.perf_counter() - began

    def _offer(self, t: int, morning: date) -> None:
        """Balloon options (`offers.offer_balloon_options`) for loans whose balloon falls due
        within `OFFER_LEAD_DAYS`, once per loan, no holdout (the comparison is the holdout)."""
        rec = self.record
        if rec.offer_tried is None:
            rec.offer_tried = np.full(len(rec.reminded_due), -1, dtype=np.int64)
        s, ln = tables.loan_state.c, tables.loans.c
        with self.platform.engine.connect() as conn:
            ids = list(conn.execute(
                select(s.loan_id).join(tables.loans, ln.id == s.loan_id)
                .where(ln.status == "active", s.paid_off.is_(False), s.balloon_fen > 0,
                       s.balloon_due_date >= morning,
                       s.balloon_due_date <= morning + timedelta(days=OFFER_LEAD_DAYS))
                .order_by(s.loan_id)).scalars())
        idx = loan_indexes(ids)
        new = rec.offer_tried[idx] < 0 if len(idx) else np.zeros(0, dtype=bool)
        if not new.any():
            return
        rec.offer_tried[idx[new]] = t
        run = offers.offer_balloon_options(
            self.platform, [x for x, fresh in zip(ids, new.tolist(), strict=True) if fresh],
            morning, holdout=0, send=True, actor=OFFER_ACTOR)
        rec.add("offers_loans", run.loans)
        rec.add("offers_sent", run.sent)
        rec.add("offers_ineligible", run.ineligible)

    def _incentives(self, t: int, day: date) -> None:
        """The platform's incentive programmes (`incentives.evaluate_incentives`), stored
        once, then evaluated after every end of day; awards are booked by the service."""
        if not self.record.programmes_saved:
            for programme in INCENTIVE_PROGRAMMES:
                incentives.save_programme(self.platform, STRATEGY_AUTHOR,
                                          programme | {"starts_on": day.isoformat()})
            self.record.programmes_saved = True
        run = incentives.evaluate_incentives(self.platform, day)
        self.record.add("incentives_awarded", run.awarded)
        self.record.add("incentives_fen", run.amount_fen)

    def _deliver(self, t: int) -> None:
        sent_ids: list[int] = []
        while True:
            report = notifications.deliver_due(self.platform, self.channels, limits={},
                                               batch=DELIVERY_BATCH)
            for key in ("sent", "failed", "blocked", "deferred", "retrying"):
                self.record.add(f"messages_{key}", int(getattr(report, key)))
            sent_ids.extend(int(d["message_id"]) for d in report.details
                            if d.get("status") == "sent")
            handled = (report.sent + report.failed + report.blocked + report.deferred
                       + report.retrying)
            if handled < DELIVERY_BATCH:
                break
        for channel in self.channels.values():
            if isinstance(channel, SandboxChannel):
                channel.sent.clear()  # recorded by the platform already; keep memory flat
        if not sent_ids:
            return
        m = messages.c
        with self.platform.engine.connect() as conn:
            offered = list(conn.execute(select(m.loan_id).where(
                m.id.in_(sent_ids), m.template == "offer", m.loan_id.is_not(None))).scalars())
            rows = conn.execute(select(m.loan_id, m.dedupe_key).where(
                m.id.in_(sent_ids), m.template == "due-reminder", m.channel.in_(REACHING),
                m.loan_id.is_not(None), m.dedupe_key.is_not(None))).all()
        if offered:
            idx = np.unique(loan_indexes(offered))
            first = self.record.offered_day[idx] < 0
            self.record.offered_day[idx[first]] = t
            self.record.add("offers_delivered", int(first.sum()))
        if not rows:
            return
        idx = loan_indexes([r[0] for r in rows])
        due = np.array([str(r[1]).split(":")[2] for r in rows], dtype="datetime64[D]")
        due_day = (due - np.datetime64(self.start, "D")).astype(np.int64)
        np.maximum.at(self.record.reminded_due, idx, due_day)
        self.record.add("reminders_delivered", len(np.unique(idx)))

    def _collect(self, t: int) -> None:
        """The simulator as collector: perform each loan's assigned step once when it is
        reached, and calls again every `CALL_REPEAT_DAYS` while the step stays a call."""
        a = recovery_assignments.c
        with self.platform.engine.connect() as conn:
            rows = conn.execute(select(a.loan_id, a.case_id, a.step, a.action)
                                .where(a.action.in_(PERFORMED)).order_by(a.loan_id)).all()
        if not rows:
            return
        rec = self.record
        idx = loan_indexes([r[0] for r in rows])
        case = np.array([r[1] for r in rows], dtype=np.int64)
        step = np.array([r[2] for r in rows], dtype=np.int64)
        action = np.array([r[3] for r in rows], dtype=object)
        fresh = (rec.performed_case[idx] != case) | (rec.performed_step[idx] != step)
        again = (action == "call") & (t - rec.performed_day[idx] >= CALL_REPEAT_DAYS)
        todo = np.flatnonzero(fresh | again)
        if not len(todo):
            return
        connect = bh.uniforms(self.config.seed, idx[todo], t, bh.Purpose.CONTACT)
        for k, u in zip(todo.tolist(), connect.tolist(), strict=True):
            i, loan = int(idx[k]), str(rows[k][0])
            rec.performed_case[i], rec.performed_step[i] = case[k], step[k]
            rec.performed_day[i] = t
            self._perform(t, i, loan, int(case[k]), str(action[k]), u)

    def _perform(self, t: int, i: int, loan: str, case_id: int, action: str,
                 u: float) -> None:
        rec = self.record
        try:
            if action == "reminder":
                notifications.queue_message(self.platform, COLLECTOR, loan, "overdue-notice",
                                            Channel.SMS)
                rec.add("overdue_messages_queued")
                return
            channel = CONTACTS[action]
            if channel is Channel.CALL:
                outcome = (Outcome.CONNECTED if u < self.config.behaviour.call_connect
                           else Outcome.NO_ANSWER)
            elif channel is Channel.LETTER:
                outcome = Outcome.SENT
            else:
                outcome = Outcome.VISITED
            result = recovery_cases.contact(
                self.platform, COLLECTOR, case_id,
                ContactCommand(channel, Purpose.COLLECTION, loan_id=loan), outcome)
        except (Refused, InvalidInput, NotFound):
            rec.add("collector_refusals")
            return
        if not result["allowed"]:
            rec.add(f"{action}_blocked")
            return
        rec.add(f"{action}_{outcome.value}")
        if outcome is not Outcome.NO_ANSWER:
            rec.contacted_day[i] = t


__all__ = ["CONTACT_WINDOW_DAYS", "DEFAULT_CHAMPION", "PLAIN_STRATEGY", "PlatformTreatments",
           "Record"]
