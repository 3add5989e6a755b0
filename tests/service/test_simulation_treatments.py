"""Treatments in the simulator are done by the platform's services, and their effects reach only
the loans the platform actually treated (simulation/treatments.py).

A tiny world (60 loans, 3 months) with a high miss rate and a reminder effect of 1 (a reached
would-be miss always pays): every loan whose reminder was delivered pays its first instalment
on time, while a borrower who opted out of every channel gets no reminder (the contact policy
blocks it) and fares exactly as without treatments. Contract PDFs are stubbed, as in
test_simulation_run.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log, messages
from tailguard.recovery.strategy import Strategy, assign
from tailguard.services import contacts, contract_documents, notifications
from tailguard.services.recovery_strategies import columns_from_rows
from tailguard.simulation import behaviour as bh
from tailguard.simulation.config import PRESETS, Behaviour, SimulationConfig, Treatments
from tailguard.simulation.export import write_exports, write_json
from tailguard.simulation.report import compute_kpis
from tailguard.simulation.runner import Simulation, checkpoint_path_for
from tailguard.simulation.session import Outcome, document
from tailguard.simulation.treatments import PLAIN_STRATEGY
from tailguard.simulation.world import loan_id

from .conftest import make_platform

START = date(2024, 1, 1)
RISKY = Behaviour(miss_base=0.5, bounce=0.0, prepay=0.0)
"""Half the instalments would be missed; no bounced debits or prepayments to blur the picture."""
REMINDED = Treatments(reminder=1.0, reminders=True)
OPTED_OUT = 0
"""The loan whose borrower opts out of every channel (the world's first booking)."""


@pytest.fixture(autouse=True)
def no_contract_pdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("issue_contract", "issue_addendum"):
        monkeypatch.setattr(contract_documents, name, lambda *args, **kwargs: None)


@pytest.fixture
def new_sqlite(sqlite_template: Path, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    def make(name: str) -> str:
        target = tmp_path / f"{name}.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"

    yield make


def _config(treatments: Treatments, name: str) -> SimulationConfig:
    return SimulationConfig(loans=60, months=3, seed=11, behaviour=RISKY,
                            treatments=treatments, name=name)


def _run(url: str, config: SimulationConfig, opt_out: int | None = None,
         kind: str = "opt-out") -> Simulation:
    platform = make_platform(url, FixedClock.at(START))
    sim = Simulation(platform, config, START, checkpoint_path_for(url))
    if opt_out is not None:  # run to the day after its booking, record `kind`, carry on
        sim.run(stop_after_days=int(sim.world.day[opt_out]) + 1)
        borrower = contacts.borrower_of_loan(platform, loan_id(opt_out))
        contacts.set_permission(platform, contacts.Actor("test", "servicing"), borrower,
                                kind, reason="asked for no contact")
    sim.run()
    return sim


def _first_instalments(sim: Simulation) -> dict[str, tuple[date, date | None]]:
    """Loan → (due date, settled on) of instalment 1, for those due inside the run."""
    i = tables.installment_state.c
    with sim.platform.engine.connect() as conn:
        rows = conn.execute(select(i.loan_id, i.due_date, i.settled_on)
                            .where(i.number == 1, i.due_date < sim.end)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _delivered_reminders(sim: Simulation) -> set[tuple[str, date]]:
    """(loan, due date) of every due-date reminder the platform delivered by SMS."""
    m = messages.c
    with sim.platform.engine.connect() as conn:
        rows = conn.execute(select(m.loan_id, m.dedupe_key).where(
            m.template == "due-reminder", m.status == "sent", m.channel == "sms")).all()
    return {(r[0], date.fromisoformat(r[1].split(":")[2])) for r in rows}


def _on_time(row: tuple[date, date | None]) -> bool:
    return row[1] is not None and row[1] <= row[0]


def test_a_reminder_effect_reaches_only_loans_whose_reminder_was_delivered(
        new_sqlite: Callable[[str], str]) -> None:
    treated = _run(new_sqlite("treated"), _config(REMINDED, "reminded"), opt_out=OPTED_OUT)
    untreated = _run(new_sqlite("untreated"), _config(Treatments(reminder=1.0), "off"))
    record = treated.state.treatments
    assert record is not None and untreated.state.treatments is not None
    first_t, first_u = _first_instalments(treated), _first_instalments(untreated)
    assert len(first_t) > 30

    delivered = _delivered_reminders(treated)
    reached = []
    for loan, (due, _) in first_t.items():
        if (loan, due) in delivered:
            reached.append(loan)
            assert _on_time(first_t[loan]), f"{loan} was reminded and still missed"
    assert len(reached) > 20
    # The effect was used: some reminded loans would have missed (and did, untreated).
    assert any(not _on_time(first_u[loan]) for loan in reached)
    # Untreated: no reminder queued or delivered, so the effect of 1 never applied.
    assert (untreated.state.treatments.reminded_due == -1).all()
    assert not notifications.messages_of(untreated.platform, loan_id(5))

    # The opted-out borrower: every message blocked by the contact policy, no reminder
    # recorded, and its first instalment exactly as without treatments (a would-be miss).
    blocked = loan_id(OPTED_OUT)
    sent = notifications.messages_of(treated.platform, blocked)
    assert sent and {m["status"] for m in sent} == {"blocked"}
    assert record.reminded_due[OPTED_OUT] == -1
    assert first_t[blocked] == first_u[blocked]
    due = first_u[blocked][0]
    u = bh.uniforms(11, np.array([OPTED_OUT]), np.array([1]), bh.Purpose.MISS)
    p = bh.miss_probability(treated.world, RISKY, 11, np.array([OPTED_OUT]),
                            (due.year - START.year) * 12 + due.month - START.month)
    assert (u < p).all() and not _on_time(first_t[blocked]), "pick a would-be miss"


def test_a_collections_effect_needs_a_contact_the_policy_allowed_and_the_collector_made(
        new_sqlite: Callable[[str], str]) -> None:
    config = _config(Treatments(collections=0.5, strategy="plain"), "plain")
    sim = _run(new_sqlite("plain"), config, opt_out=OPTED_OUT, kind="do-not-contact")
    record = sim.state.treatments
    assert record is not None
    assert record.counts.get("call_connected", 0) > 5
    contacted = np.flatnonzero(record.contacted_day >= 0)
    assert len(contacted) > 5 and OPTED_OUT not in contacted
    borrower = contacts.borrower_of_loan(sim.platform, loan_id(OPTED_OUT))
    log = contacts.contacts_of(sim.platform, borrower)
    calls = [c for c in log if c["channel"] == "call"]
    assert calls and {c["decision"] for c in log} == {"block"}
    assert {c["reason"] for c in log} == {"DO_NOT_CONTACT"}
    # Every loan marked contacted has an allowed call (connected), letter or visit on record.
    for k in contacted[:10].tolist():
        other = contacts.borrower_of_loan(sim.platform, loan_id(k))
        made = [c for c in contacts.contacts_of(sim.platform, other)
                if c["decision"] == "allow" and c["outcome"] in ("connected", "sent", "visited")
                and c["channel"] in ("call", "letter", "field-visit")]
        assert made, f"{loan_id(k)} flagged without a contact made"


def _digests(sim: Simulation, out: Path) -> dict[str, str]:
    digests = write_exports(sim, sim.platform, out)
    kpis = compute_kpis(sim.platform, sim.state)
    digests["kpis.json"] = write_json(document(Outcome(sim, sim.platform, kpis)),
                                      out / "kpis.json")
    return digests


def _messages(sim: Simulation) -> list[tuple[object, ...]]:
    m, log = messages.c, contact_log.c
    with sim.platform.engine.connect() as conn:
        sent = conn.execute(select(m.loan_id, m.template, m.channel, m.status, m.dedupe_key,
                                   m.body).order_by(m.id)).all()
        logged = conn.execute(select(log.loan_id, log.channel, log.decision, log.reason_code,
                                     log.outcome, log.local_time).order_by(log.id)).all()
    return [tuple(r) for r in sent] + [tuple(r) for r in logged]


def test_same_seed_same_bytes_with_treatments_on(new_sqlite: Callable[[str], str],
                                                 tmp_path: Path) -> None:
    config = replace(_config(PRESETS["tailguard"], "tailguard"), loans=40)
    first = _run(new_sqlite("first"), config)
    again = _run(new_sqlite("again"), config)
    record = first.state.treatments
    assert record is not None and record.counts.get("messages_sent", 0) > 50
    assert record.counts.get("cases_opened", 0) > 0
    assert _digests(first, tmp_path / "first") == _digests(again, tmp_path / "again")
    assert _messages(first) == _messages(again)
    assert np.array_equal(record.reminded_due, again.state.treatments.reminded_due)  # type: ignore[union-attr]
    assert np.array_equal(record.contacted_day, again.state.treatments.contacted_day)  # type: ignore[union-attr]


def test_the_plain_strategy_is_valid_data_and_assigns_by_days_past_due_only() -> None:
    strategy = Strategy.parse(PLAIN_STRATEGY)
    assert Strategy.parse(strategy.to_dict()) == strategy
    assert not strategy.segments and strategy.holdout_share == 0
    as_of = date(2024, 6, 1)
    rows = [  # as load_delinquent selects them: same dpd, different everything else
        ("L1", "B1", 6, "M1", 700, "510104", "510104", "510100", 0, None, 1, 0, 100),
        ("L2", "B2", 6, "M1", None, "650102", "110101", "440100", 50_000,
         as_of - timedelta(days=3), 2, 0, 900),
        ("L3", "B3", 1, "M1", 300, "310101", "310101", "310100", 0, None, 3, 0, 10),
    ]
    result = assign(strategy, columns_from_rows(rows, as_of).loans)
    assert result.action.tolist() == ["call", "call", "reminder"]
    assert set(result.path.tolist()) == {"plain"} and set(result.arm.tolist()) == {"champion"}
    assert result.next_in_days.tolist() == [-1, -1, 4]


def test_effects_reach_only_the_loans_flagged_as_treated() -> None:
    u = np.linspace(0, 1, 1000, endpoint=False)
    t = Treatments(reminder=0.5, collections=0.5, balloon_offer=1.0)
    reached = np.arange(1000) % 2 == 0
    rescued = bh.rescued(t, u, reached, np.zeros(1000, dtype=bool))
    assert rescued[reached].mean() == pytest.approx(0.5, abs=0.01)
    assert not rescued[~reached].any()
    behind = np.ones(4, dtype=np.int64)
    cure, _ = bh.cure_probability(RISKY, t, behind, np.array([True, False, True, False]))
    assert cure[0] == cure[2] == pytest.approx(RISKY.cure[0] * 1.5)
    assert cure[1] == cure[3] == pytest.approx(RISKY.cure[0])
    facts = dict(equity_ratio=-0.5, liquid=False, delinquent=True, can_refinance=True,
                 can_extend=False, can_return=False, can_trade_in=False, risk=50.0)
    without = {bh.balloon_choice(RISKY, t, x, 0.0, offered=False, **facts)  # type: ignore[arg-type]
               for x in np.linspace(0, 0.999, 50)}
    offered = {bh.balloon_choice(RISKY, t, x, 0.0, offered=True, **facts)  # type: ignore[arg-type]
               for x in np.linspace(0, 0.999, 50)}
    assert bh.BalloonChoice.DEFAULT in without and bh.BalloonChoice.DEFAULT not in offered
