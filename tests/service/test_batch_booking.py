"""Batch booking (`booking.book_applications`): one answer per application, bad ones refused
alone and leaving nothing behind, the same rows as booking one by one, and contracts that can
be deferred to `contract_documents.issue_missing_contracts`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tailguard.errors import InvalidInput, Refused
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.services import contract_documents, queries, servicing
from tailguard.services.booking import book_application, book_applications
from tailguard.services.platform import Platform
from tests.service.conftest import make_platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore::tailguard.calendar.CalendarFallbackWarning")


def _count(platform: Platform, table: object) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_batch_answers_each_application_and_books_only_the_good_ones(
    platform: Platform,
) -> None:
    with_dealer(platform)
    book_application(platform, "officer", application(1))
    bad_id = application(3)
    bad_id = replace(bad_id, borrower=replace(bad_id.borrower, id_number="110105198503151231"),
                     term_months=400)
    batch = [
        application(2),
        bad_id,
        application(4, loan_id="L00001"),  # the loan id is taken
        replace(application(5), vehicle=application(2).vehicle),  # the car of the first
        application(6, residence="999999"),
        application(7, product="no-such-product"),
        application(8),
    ]
    results = book_applications(platform, "officer", batch)
    assert results[0] == "L00002" and results[6] == "L00008"
    assert isinstance(results[1], InvalidInput)
    assert {"borrower.id_number", "term"} <= {e.field for e in results[1].errors}
    assert isinstance(results[2], Refused) and results[2].code == "LOAN_EXISTS"
    assert isinstance(results[3], Refused) and results[3].code == "VEHICLE_FINANCED"
    assert isinstance(results[4], InvalidInput)
    assert [e.field for e in results[4].errors] == ["borrower.residence_region_code"]
    assert isinstance(results[5], InvalidInput)
    assert [e.field for e in results[5].errors] == ["product_code"]
    # Three loans in all, and nothing of the refused ones: one party and car per loan.
    assert _count(platform, tables.loans) == 3
    assert _count(platform, tables.parties) == 3
    assert _count(platform, tables.vehicles) == 3
    with platform.engine.connect() as conn:
        assert queries.trial_balance(conn, platform.today()).balanced
        assert queries.reconcile(conn) == []
        books = conn.execute(select(tables.journal_entries.c.id).where(
            tables.journal_entries.c.reference_id == "L00002")).scalars().all()
        actions = conn.execute(select(tables.audit_log.c.action).where(
            tables.audit_log.c.entity_id == "L00008")).scalars().all()
    assert "L00002:disbursement" in books and "loan.book" in actions
    # Booked in a batch or alone, a loan is the same loan.
    alone = servicing.load_account(platform, "L00001")
    batched = servicing.load_account(platform, "L00002")
    assert alone.schedule.installments == batched.schedule.installments
    assert alone.position(platform.today()) == batched.position(platform.today())


def test_deferred_contracts_are_issued_by_the_batch_step(platform: Platform) -> None:
    with_dealer(platform)
    booked = book_applications(platform, "officer", [application(k) for k in (1, 2, 3)],
                               issue_contracts=False)
    assert booked == ["L00001", "L00002", "L00003"]
    assert _count(platform, contract_documents.contract_documents) == 0
    assert contract_documents.loans_without_contract(platform) == booked
    first = contract_documents.issue_missing_contracts(platform, "ops", limit=2)
    assert [d.loan_id for d in first] == ["L00001", "L00002"]
    assert contract_documents.loans_without_contract(platform) == ["L00003"]
    rest = contract_documents.issue_missing_contracts(platform, "ops")
    assert [(d.loan_id, d.kind, d.version, d.reason) for d in rest] == [
        ("L00003", "contract", 1, "booking")]
    assert contract_documents.issue_missing_contracts(platform, "ops") == []


def test_parties_and_vehicle_of_a_chosen_loan_id_get_the_same_ids_in_another_database(
    new_database: Callable[[], str], clock: FixedClock,
) -> None:
    """Two runs of one simulated world book the same loan ids in two databases: the borrower,
    guarantor and vehicle ids follow the loan id, so arms keyed on a party fall the same way;
    a loan whose id the platform chooses gets random ones."""
    ids = []
    for _ in range(2):
        platform = make_platform(new_database(), clock)
        try:
            with_dealer(platform)
            assert book_application(platform, "officer", application(3)) == "L00003"
            other = book_application(platform, "officer", replace(application(4), loan_id=None))
            with platform.engine.connect() as conn:
                ids.append([conn.execute(
                    select(tables.loans.c.borrower_id, tables.loans.c.vehicle_id)
                    .where(tables.loans.c.id == loan)).one() for loan in ("L00003", other)])
        finally:
            platform.engine.dispose()
    (chosen_a, random_a), (chosen_b, random_b) = ids
    assert chosen_a == chosen_b
    assert chosen_a[0].startswith("pty-") and chosen_a[1].startswith("veh-")
    assert random_a[0] != random_b[0] and random_a[1] != random_b[1]
