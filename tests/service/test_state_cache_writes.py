"""The state cache is written as a diff (only rows and columns that changed), yet ends up
exactly as a full rewrite from the replay would leave it; on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, event, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import state_repository as states
from tailguard.infra.db import tables
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.services import loan_books, servicing
from tailguard.services.booking import book_application
from tailguard.services.payments import PaymentCommand, post_payments
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def cache_equals_replay(platform: Platform, loan_id: str) -> None:
    """Every cached row equals the replay's row, and no row is left over."""
    account = servicing.load_account(platform, loan_id)
    with platform.engine.connect() as conn:
        have_state = states.state_of(conn, loan_id)
        have_rows = conn.execute(
            select(tables.installment_state)
            .where(tables.installment_state.c.loan_id == loan_id)
            .order_by(tables.installment_state.c.number)).mappings().all()
    assert have_state is not None
    position = account.position(have_state["as_of"])
    want_state = states.loan_state_row(account, position,
                                       loan_books.accrued(account, position.as_of))
    assert have_state == want_state
    want_rows = states.installment_rows(account, position)
    assert [dict(r) for r in have_rows] == want_rows


def writes_during(conn: Connection, work: Any) -> list[str]:
    """The data-changing statements `work()` sends on `conn`."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(conn, "before_cursor_execute", record)
    return seen


def test_payments_reversals_and_payoff_leave_the_cache_equal_to_the_replay(
    platform: Platform, clock: FixedClock
) -> None:
    with_dealer(platform)
    loans = [book_application(platform, "officer", application(k, term=12 * k))
             for k in (1, 2)]
    for loan_id in loans:
        cache_equals_replay(platform, loan_id)
    clock.advance(timedelta(days=45))  # 2026-02-24: the first instalment is overdue
    day = platform.today()
    results = post_payments(platform, "ops", [
        PaymentCommand(loans[0], 2_000_00, day, Channel.APP, "a1"),
        PaymentCommand(loans[1], 9_000_00, date(2026, 2, 10), Channel.APP, "b1"),
        PaymentCommand(loans[0], 3_000_00, day, Channel.APP, "a2"),
    ])
    assert all(not isinstance(r, Exception) for r in results)
    for loan_id in loans:
        cache_equals_replay(platform, loan_id)
    bounced = results[1]
    assert not isinstance(bounced, Exception)
    servicing.reverse_payment(platform, "ops", loans[1], bounced.payment_id, "bounced", "r1")
    cache_equals_replay(platform, loans[1])
    # A payoff puts a settlement schedule in force: instalments after it disappear.
    quote = servicing.payoff_quote(platform, loans[1])
    servicing.settle_loan(platform, "ops", loans[1], quote.total_fen, Channel.APP, "s1")
    cache_equals_replay(platform, loans[1])
    cache_equals_replay(platform, loans[0])


def test_saving_an_unchanged_position_writes_nothing_and_a_change_writes_its_rows_only(
    platform: Platform, clock: FixedClock
) -> None:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(1))
    clock.advance(timedelta(days=31))
    day = platform.today()
    account = servicing.load_account(platform, loan_id)
    position = account.position(day)
    item = (account, position, loan_books.accrued(account, day))
    with platform.engine.begin() as conn:
        states.save_states(conn, [item])
        assert writes_during(conn, lambda: states.save_states(conn, [item])) == []
    paid = account.with_event(PaymentReceived("p-1", day, 1_000_00, Channel.APP))
    changed = (paid, paid.position(day), loan_books.accrued(paid, day))
    with platform.engine.begin() as conn:
        statements = writes_during(conn, lambda: states.save_states(conn, [changed]))
    # The loan's state and the one instalment the payment reached; nothing inserted or deleted.
    assert statements and all(s.lstrip().upper().startswith("UPDATE") for s in statements)
    with platform.engine.connect() as conn:
        stored = conn.execute(select(tables.installment_state.c.number, tables.installment_state
                                     .c.interest_paid_fen, tables.installment_state.c
                                     .principal_paid_fen)
                              .where(tables.installment_state.c.loan_id == loan_id)
                              .order_by(tables.installment_state.c.number)).all()
    assert stored[0][1] + stored[0][2] == 1_000_00
    assert all(r[1] == r[2] == 0 for r in stored[1:])


def test_penalty_rate_follows_the_product_version() -> None:
    """The penalty rate is cached by the values it is made of, so a product version with
    another multiplier or day count gets its own rate, never the old one."""
    from tailguard.loans.account import LoanAccount
    from tailguard.loans.products import standard_catalogue
    from tailguard.loans.terms import LoanRequest, validate_request

    product = next(p for p in standard_catalogue() if p.code == "auto-balloon")
    request = LoanRequest(200_000_00, Decimal("0.0475"), 36, date(2026, 1, 10),
                          balloon_share=Decimal("0.3"))

    def account_of(p: Any) -> LoanAccount:
        terms = validate_request(p, request)
        return LoanAccount("L1", terms, (terms.initial_schedule(),), ())

    first = states.penalty_rate(account_of(product), None)
    again = states.penalty_rate(account_of(product), None)
    assert first == again
    doubled = replace(product, version=product.version + 1,
                      penalty_multiplier=product.penalty_multiplier * 2)
    second = states.penalty_rate(account_of(doubled), None)
    assert Decimal(second.numerator) / second.denominator == \
        2 * Decimal(first.numerator) / first.denominator
    assert states.penalty_rate(account_of(product), Decimal("0.09")) != first
