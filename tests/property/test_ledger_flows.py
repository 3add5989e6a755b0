"""The books follow the replay: after any sequence of servicing facts, trued up after each,
the ledger balances exactly and every per-loan balance equals the replayed position."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tailguard.errors import Refused
from tailguard.ledger.flows import (
    CASH,
    UNAPPLIED_RECEIPTS,
    receivable_targets,
    target_flows,
    true_up,
)
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen
from tailguard.loans.events import (
    ChargeWaived,
    Component,
    CreditRefunded,
    LoanEvent,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.payoff import quote_payoff
from tailguard.loans.restructure import apply_restructure, plan_restructure
from tests.property.test_servicing_properties import accounts

warnings.simplefilter("ignore")


def event_kind(action: str) -> None:
    event(action)


class Books:
    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.booked: dict[str, int] = {}

    def post(self, legs: list[tuple[str, int]]) -> None:
        assert sum(amount for _, amount in legs) == 0
        for account, amount in legs:
            self.balances[account] = self.balances.get(account, 0) + amount

    def sync(self, account: LoanAccount, as_of: date) -> None:
        position = account.position(as_of)
        accrued = accrued_interest_fen(account.schedule, account.product, account.annual_rate,
                                       as_of)
        channels = {e.payment_id: e.channel for e in account.events
                    if isinstance(e, PaymentReceived)}
        target = target_flows(position, account.terms.principal_fen, accrued, channels)
        deltas, postings = true_up(target, self.booked)
        self.post([(p.account, p.amount_fen) for p in postings])
        for flow, delta in deltas.items():
            self.booked[flow] = self.booked.get(flow, 0) + delta
        assert sum(self.balances.values()) == 0
        for account_code, expected in receivable_targets(position, accrued).items():
            assert self.balances.get(account_code, 0) == expected, account_code
        assert self.balances.get(UNAPPLIED_RECEIPTS, 0) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts(), st.data())
def test_books_equal_the_replay_after_every_fact(account: LoanAccount, data: st.DataObject) -> None:
    books = Books()
    start = account.terms.disbursement_date
    day = start
    books.sync(account, day)
    paid: list[str] = []
    for step in range(data.draw(st.integers(1, 10))):
        day += timedelta(days=data.draw(st.integers(0, 70)))
        action = data.draw(st.sampled_from(["pay", "pay", "backdated", "reverse", "waive",
                                            "restructure", "settle", "refund"]))
        fact: LoanEvent | None = None
        if action in ("pay", "backdated"):
            floor = account.schedule.effective_date or start  # earlier is refused
            value = day if action == "pay" else max(floor, day - timedelta(days=40))
            fact = PaymentReceived(f"p{step}", value, data.draw(st.integers(1, 30_000_00)))
            books.post([(CASH, fact.amount_fen), (UNAPPLIED_RECEIPTS, -fact.amount_fen)])
            paid.append(fact.payment_id)
        elif action == "reverse" and paid:
            pid = paid.pop(0)
            amount = next(e.amount_fen for e in account.events
                          if isinstance(e, PaymentReceived) and e.payment_id == pid)
            fact = PaymentReversed(pid, day)
            try:
                account.with_event(fact)
            except Refused:  # its credit was refunded already: rightly refused
                paid.insert(0, pid)
                continue
            books.post([(CASH, -amount), (UNAPPLIED_RECEIPTS, amount)])
        elif action == "refund" and day >= (account.schedule.effective_date or start):
            credit = account.position(day).credit_balance_fen
            if credit:
                # The true-up itself books a refund (Dr credit balance, Cr cash).
                fact = CreditRefunded(f"f{step}", day, data.draw(st.integers(1, credit)))
        elif action == "waive":
            fact = ChargeWaived(f"w{step}", day, data.draw(st.integers(1, 500_00)),
                                 Component.PENALTY)
        elif action == "restructure" and day < account.schedule.maturity_date:
            try:
                plan = plan_restructure(account, day, data.draw(st.integers(1, 24)), f"r{step}")
            except Exception:  # nothing owed
                continue
            account = apply_restructure(account, plan)
        elif action == "settle" and day <= account.schedule.maturity_date:
            quote = quote_payoff(account, day)
            account = account.with_schedule(quote.settlement)
            if quote.total_fen:
                fact = PaymentReceived(f"s{step}", day, quote.total_fen)
                books.post([(CASH, quote.total_fen), (UNAPPLIED_RECEIPTS, -quote.total_fen)])
        if fact is not None:
            account = account.with_event(fact)
        books.sync(account, day)
        event_kind(action)
