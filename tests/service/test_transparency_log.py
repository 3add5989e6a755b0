"""The log of money movements: receipts verify offline, and an edited journal row is named."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tailguard.calendar import CalendarFallbackWarning
from tailguard.cli.main import main
from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.receipt import journal_entry_leaf, verify_receipt
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.loans.events import Channel
from tailguard.services import servicing, transparency
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def paid_loan(platform: Platform, clock: FixedClock) -> str:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(3))
    clock.advance(timedelta(days=31))
    outcome = servicing.post_payment(platform, "ops", loan_id, 4417_73,
                                     platform.today(), Channel.APP, "log-pay-1")
    return outcome.payment_id


def test_receipt_verifies_offline_and_fails_when_the_entry_changes(
    platform: Platform, clock: FixedClock
) -> None:
    payment_id = paid_loan(platform, clock)
    first = transparency.integrate(platform)
    assert first.leaves_added >= 4 and first.signed_checkpoint
    entry_id = f"{payment_id}:receipt"
    receipt = transparency.receipt_for_entry(platform, entry_id)
    keys = transparency.verifiers(platform.settings)
    leaf = journal_entry_leaf(entry_id, receipt.document)
    assert verify_receipt(receipt.receipt, leaf, keys).index >= 0
    tampered = receipt.document.replace(b"441773", b"441774")
    assert tampered != receipt.document
    with pytest.raises(TransparencyLogError):
        verify_receipt(receipt.receipt, journal_entry_leaf(entry_id, tampered), keys)
    # More entries, a second checkpoint provably extending the first; the audit is clean.
    clock.advance(timedelta(days=5))
    servicing.post_payment(platform, "ops", servicing.load_account(
        platform, "L00003").loan_id, 100_00, platform.today(), Channel.APP, "log-pay-2")
    second = transparency.integrate(platform)
    assert second.tree_size > first.tree_size
    assert transparency.audit(platform) == []
    # The old receipt still verifies against its own checkpoint.
    assert verify_receipt(receipt.receipt, leaf, keys)


def test_audit_names_a_journal_row_edited_in_the_database(
    platform: Platform, clock: FixedClock
) -> None:
    payment_id = paid_loan(platform, clock)
    transparency.integrate(platform)
    with platform.engine.begin() as conn:
        seq = conn.execute(select(tables.journal_entries.c.seq).where(
            tables.journal_entries.c.id == f"{payment_id}:receipt")).scalar_one()
        conn.execute(update(tables.postings)
                     .where(tables.postings.c.entry_seq == seq,
                            tables.postings.c.amount_fen == 4417_73)
                     .values(amount_fen=4417_70))
    findings = transparency.audit(platform)
    assert [(f.code, f.reference) for f in findings] == [("edited", f"{payment_id}:receipt")]


def test_receipt_cli_round_trip(
    platform: Platform, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment_id = paid_loan(platform, clock)
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    runner = CliRunner()
    assert runner.invoke(main, ["log", "integrate"]).exit_code == 0
    out = tmp_path / "payment.tlog-proof"
    made = runner.invoke(main, ["log", "receipt", "--payment", payment_id, "--out", str(out)])
    assert made.exit_code == 0, made.output
    vkey = runner.invoke(main, ["log", "vkey"]).stdout.strip()
    document = tmp_path / "payment.tlog-proof.entry.json"
    ok = runner.invoke(main, ["log", "verify", str(out), "--document", str(document),
                              "--vkey", vkey])
    assert ok.exit_code == 0, ok.output
    document.write_bytes(document.read_bytes().replace(b"2242", b"2243"))
    bad = runner.invoke(main, ["log", "verify", str(out), "--document", str(document),
                               "--vkey", vkey])
    assert bad.exit_code == 3 and "RECEIPT_INVALID" in bad.stderr
