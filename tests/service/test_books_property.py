"""Property: over random sequences of commands through the services, the trial balance is
zero after every transaction and every loan's books reconcile with its servicing state."""

from __future__ import annotations

import shutil
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailguard.batch import eod
from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import Refused
from tailguard.infra.clock import FixedClock
from tailguard.loans.events import Channel
from tailguard.services import approvals, queries, servicing
from tailguard.services.booking import book_application
from tests.service.conftest import START, make_platform
from tests.service.factories import application, with_dealer

warnings.simplefilter("ignore", CalendarFallbackWarning)
pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)

COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "backdated", "reverse", "waive", "eod", "settle", "wait"]),
        st.integers(0, 2),  # which loan
        st.integers(1, 6_000_00),  # amount
        st.integers(0, 40),  # days
    ),
    min_size=3,
    max_size=12,
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
def test_trial_balance_is_zero_after_every_command(
    commands: list[tuple[str, int, int, int]], sqlite_template: Path, tmp_path: Path
) -> None:
    target = tmp_path / f"p{abs(hash(tuple(commands))) % 10**9}.db"
    shutil.copyfile(sqlite_template, target)
    clock = FixedClock.at(START)
    platform = make_platform(f"sqlite:///{target}", clock)
    with_dealer(platform)
    loans = [book_application(platform, "officer", application(k + 1)) for k in range(3)]
    payments: dict[str, list[str]] = {loan: [] for loan in loans}
    try:
        for n, (command, which, amount, days) in enumerate(commands):
            loan = loans[which]
            today = platform.today()
            try:
                if command in ("pay", "backdated"):
                    value = today if command == "pay" else max(START, today - timedelta(days=days))
                    outcome = servicing.post_payment(platform, "ops", loan, amount, value,
                                                     Channel.APP, f"k{n}")
                    if outcome.status == "posted":
                        payments[loan].append(outcome.payment_id)
                elif command == "reverse" and payments[loan]:
                    servicing.reverse_payment(platform, "ops", loan, payments[loan].pop(0),
                                              "bounced", f"r{n}")
                elif command == "waive":
                    request = approvals.request_approval(
                        platform, "maker", "waive", loan,
                        {"amount_fen": amount % 50_00 + 1, "component": "penalty"})
                    approvals.decide(platform, "checker", request.approval_id, True)
                elif command == "eod":
                    clock.advance(timedelta(days=days % 10 + 1))
                    eod.run(platform, platform.today() - timedelta(days=1), chunk_size=2)
                elif command == "settle":
                    quote = servicing.payoff_quote(platform, loan)
                    servicing.settle_loan(platform, "ops", loan, quote.total_fen, Channel.APP,
                                          f"s{n}")
                elif command == "wait":
                    clock.advance(timedelta(days=days))
            except Refused:
                pass  # a refusal is an outcome; the books must still hold
            with platform.engine.connect() as conn:
                assert queries.trial_balance(conn, platform.today() + timedelta(days=1)).balanced
                assert queries.reconcile(conn) == []
    finally:
        platform.engine.dispose()
