"""Contract documents end to end: booking issues the contract, a balloon option an addendum,
each becomes a log leaf, its receipt verifies offline against the PDF and fails for a PDF
changed by one byte, the audit names a changed file, and checkpoints are anchored."""

from __future__ import annotations

import hashlib
import json
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.cli.main import main
from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.receipt import contract_document_leaf, verify_receipt
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_contracts import contract_documents, log_anchors
from tailguard.infra.document_store import LocalFolderStore, document_store_from_settings
from tailguard.loans.events import Channel
from tailguard.services import approvals, servicing, transparency
from tailguard.services import contract_documents as documents
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.contracts.test_contract_documents import shown_text
from tests.service.factories import application, resident_id, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def booked(platform: Platform, serial: int = 3) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(serial))


def stored_pdf(platform: Platform, loan_id: str, version: int = 1) -> bytes:
    doc = next(d for d in documents.documents_of(platform, loan_id) if d.version == version)
    return document_store_from_settings(platform.settings).get(doc.storage_key)


def test_booking_issues_the_contract_with_an_audited_read_of_the_id_number(
    platform: Platform,
) -> None:
    loan_id = booked(platform)
    [doc] = documents.documents_of(platform, loan_id)
    assert (doc.document_id, doc.kind, doc.version, doc.reason) == (
        f"{loan_id}/contract/v1", "contract", 1, "booking")
    pdf = stored_pdf(platform, loan_id)
    assert hashlib.sha256(pdf).hexdigest() == doc.sha256 and len(pdf) == doc.size_bytes
    drawn = shown_text(pdf)
    # Full name and ID number (decrypted for the document), VIN, balloon, the forum for a
    # Beijing-registered borrower living in Shenzhen of a Shanghai lender: arbitration.
    for expected in ("张三", resident_id("110105", sequence=3), "上海仲裁委员会", "深圳市车管所",
                     "第五条 尾款", "第十一条 车辆定位信息单独同意"):
        assert expected in drawn, expected
    assert "gps-consent" in doc.clauses and "dispute-resolution" in doc.clauses
    with platform.engine.connect() as conn:
        reads = conn.execute(select(tables.audit_log.c.detail).where(
            tables.audit_log.c.action == "pii.read")).scalars().all()
        events = conn.execute(select(tables.outbox.c.event_type).where(
            tables.outbox.c.aggregate_id == loan_id)).scalars().all()
    [read] = [json.loads(r) for r in reads]
    assert read["document"] == doc.document_id and "id_number" in read["fields"]
    assert read["reason"] == f"loan contract {doc.document_id}" and read["role"] == "system"
    assert "ContractDocumentIssued" in events
    # Issuing again is a no-op that returns the same document.
    assert documents.issue_contract(platform, "ops", loan_id) == doc


def test_contract_receipt_verifies_the_pdf_and_fails_for_one_changed_byte(
    platform: Platform,
) -> None:
    loan_id = booked(platform)
    with pytest.raises(Exception, match="not in the log yet"):
        transparency.receipt_for_contract(platform, loan_id)
    result = transparency.integrate(platform)
    assert result.signed_checkpoint and result.anchored == 1
    proof = transparency.receipt_for_contract(platform, loan_id)
    pdf = stored_pdf(platform, loan_id)
    keys = transparency.verifiers(platform.settings)
    verified = verify_receipt(proof.receipt, contract_document_leaf(proof.document_id, pdf), keys)
    assert verified.extra == f"contract-document {loan_id}/contract/v1".encode()
    with platform.engine.connect() as conn:
        leaf = conn.execute(select(tables.log_leaves).where(
            tables.log_leaves.c.reference_id == proof.document_id)).mappings().one()
    assert leaf["kind"] == "contract-document" and leaf["leaf_index"] == verified.index
    for position in (0, len(pdf) // 2, len(pdf) - 1):
        changed = bytearray(pdf)
        changed[position] ^= 0x01
        with pytest.raises(TransparencyLogError):
            verify_receipt(proof.receipt, contract_document_leaf(proof.document_id,
                                                                 bytes(changed)), keys)
    with pytest.raises(TransparencyLogError):  # the right PDF under another identifier
        verify_receipt(proof.receipt, contract_document_leaf(f"{loan_id}/contract/v2", pdf),
                       keys)
    assert transparency.audit(platform, document_store_from_settings(platform.settings)) == []


def test_audit_names_a_changed_file_and_an_edited_document_row(platform: Platform) -> None:
    loan_id = booked(platform)
    other = booked(platform, 4)
    transparency.integrate(platform)
    store = document_store_from_settings(platform.settings)
    assert isinstance(store, LocalFolderStore)
    path = Path(store.describe(f"contracts/{loan_id}/contract-v1.pdf"))
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOG"))
    with platform.engine.begin() as conn:
        conn.execute(update(contract_documents).where(contract_documents.c.loan_id == other)
                     .values(sha256="0" * 64))
    findings = {(f.code, f.reference) for f in transparency.audit(platform, store)}
    assert findings == {("document-changed", f"{loan_id}/contract/v1"),
                        ("edited", f"{other}/contract/v1")}


def test_extension_gets_an_addendum_that_is_logged_too(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=1070))
    request = approvals.request_approval(platform, "maker", "extend", loan_id, {"months": 12})
    approvals.decide(platform, "checker", request.approval_id, True)
    docs = documents.documents_of(platform, loan_id)
    assert [(d.kind, d.version, d.reason) for d in docs] == [
        ("contract", 1, "booking"), ("addendum", 2, "extend")]
    drawn = shown_text(stored_pdf(platform, loan_id, 2))
    for expected in ("补充协议", f"{loan_id}/contract/v1", "展期", "累计展期：12个月",
                     "变更前尾款：¥60,000.00", "变更后尾款：¥0.00"):
        assert expected in drawn, expected
    transparency.integrate(platform)
    proof = transparency.receipt_for_contract(platform, loan_id)
    assert proof.document_id == f"{loan_id}/addendum/v2" and proof.version == 2
    verify_receipt(proof.receipt, contract_document_leaf(proof.document_id,
                                                         stored_pdf(platform, loan_id, 2)),
                   transparency.verifiers(platform.settings))


def test_checkpoints_are_anchored_and_a_failed_notary_is_retried(
    platform: Platform, clock: FixedClock
) -> None:
    class Flaky:
        name = "flaky"

        def __init__(self) -> None:
            self.fail = True
            self.seen: list[int] = []

        def anchor(self, tree_size: int, signed_note: str) -> str:
            if self.fail:
                raise ConnectionError("evidence platform unavailable")
            self.seen.append(tree_size)
            return f"ref-{tree_size}"

    notary = Flaky()
    loan_id = booked(platform)
    first = transparency.integrate(platform, notary)
    assert first.anchored == 0 and first.anchor_error and "unavailable" in first.anchor_error
    clock.advance(timedelta(days=31))
    servicing.post_payment(platform, "ops", loan_id, 100_00, platform.today(), Channel.APP,
                           "anchor-pay-1")
    notary.fail = False
    second = transparency.integrate(platform, notary)
    assert second.anchored == 2 and notary.seen == [first.tree_size, second.tree_size]
    with platform.engine.connect() as conn:
        rows = conn.execute(select(log_anchors.c.tree_size, log_anchors.c.reference).where(
            log_anchors.c.notary == "flaky").order_by(log_anchors.c.tree_size)).all()
    assert [tuple(r) for r in rows] == [(first.tree_size, f"ref-{first.tree_size}"),
                                         (second.tree_size, f"ref-{second.tree_size}")]
    # The configured sandbox notary (a folder) has not seen them yet: the next run, with
    # nothing new to log, hands it both.
    third = transparency.integrate(platform)
    assert (third.leaves_added, third.anchored, third.signed_checkpoint) == (0, 2, None)
    folder = Path(platform.settings.notary.removeprefix("folder:"))
    assert sorted(p.name for p in folder.iterdir()) == [
        f"checkpoint-{first.tree_size:012d}.txt", f"checkpoint-{second.tree_size:012d}.txt"]


def cli_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))


def test_contract_receipt_on_the_command_line(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loan_id = booked(platform)
    cli_env(platform, monkeypatch)
    runner = CliRunner()
    assert runner.invoke(main, ["log", "integrate"]).exit_code == 0
    out = tmp_path / "contract.tlog-proof"
    made = runner.invoke(main, ["log", "receipt", "--contract", loan_id, "--out", str(out)])
    assert made.exit_code == 0, made.output
    pdf = tmp_path / "contract.tlog-proof.pdf"
    assert pdf.read_bytes() == stored_pdf(platform, loan_id)
    vkey = runner.invoke(main, ["log", "vkey"]).stdout.strip()
    ok = runner.invoke(main, ["log", "verify", str(out), "--document", str(pdf), "--vkey", vkey])
    assert ok.exit_code == 0, ok.output
    assert f"{loan_id}/contract/v1 is leaf" in ok.stdout
    data = bytearray(pdf.read_bytes())
    data[100] ^= 0x20
    pdf.write_bytes(bytes(data))
    bad = runner.invoke(main, ["log", "verify", str(out), "--document", str(pdf),
                               "--vkey", vkey])
    assert bad.exit_code == 3 and "RECEIPT_INVALID" in bad.stderr
    listed = runner.invoke(main, ["contract", "list", loan_id, "--json"])
    assert json.loads(listed.stdout)[0]["id"] == f"{loan_id}/contract/v1"
    missing = runner.invoke(main, ["log", "receipt", "--contract", "NOPE", "--out", str(out)])
    assert missing.exit_code == 4
    audit = runner.invoke(main, ["log", "audit"])
    assert audit.exit_code == 0, audit.output


def test_contract_and_receipts_over_http(platform: Platform, clock: FixedClock) -> None:
    own = booked(platform, 1)
    other = booked(platform, 2)
    clock.advance(timedelta(days=31))
    payment = servicing.post_payment(platform, "ops", own, 4417_73, platform.today(),
                                     Channel.APP, "http-receipt-1")
    app = create_app(platform)
    client = TestClient(app)
    with platform.engine.connect() as conn:
        borrower = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == own)).scalar_one()

    def auth(role: Role) -> dict[str, str]:
        token = app.state.tokens.issue(f"user-{role.value}", role,
                                       borrower_id=borrower if role is Role.BORROWER else None)
        return {"Authorization": f"Bearer {token}"}

    pdf = client.get(f"/api/v1/loans/{own}/contract", headers=auth(Role.BORROWER))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == stored_pdf(platform, own)
    assert pdf.headers["x-document-sha256"] == hashlib.sha256(pdf.content).hexdigest()
    assert client.get(f"/api/v1/loans/{other}/contract",
                      headers=auth(Role.BORROWER)).status_code == 404
    assert client.get(f"/api/v1/loans/{own}/contract",
                      headers=auth(Role.COLLECTOR)).status_code == 403
    assert client.get(f"/api/v1/loans/{own}/contract/receipt",
                      headers=auth(Role.SERVICING)).status_code == 404  # not logged yet
    made = client.post("/api/v1/log/checkpoints", headers=auth(Role.COMPLIANCE))
    assert made.status_code == 200 and made.json()["tree_size"] > 0
    receipt: dict[str, Any] = client.get(f"/api/v1/loans/{own}/contract/receipt",
                                         headers=auth(Role.BORROWER)).json()
    keys = transparency.verifiers(platform.settings)
    verify_receipt(receipt["receipt"], contract_document_leaf(receipt["document_id"],
                                                              pdf.content), keys)
    paid = client.get(f"/api/v1/payments/{payment.payment_id}/receipt",
                      headers=auth(Role.BORROWER))
    assert paid.status_code == 200, paid.text
    body = paid.json()
    from tailguard.contracts.receipt import journal_entry_leaf

    verify_receipt(body["receipt"], journal_entry_leaf(body["entry_id"],
                                                       body["document"].encode()), keys)
    with platform.engine.connect() as conn:
        reads = conn.execute(select(tables.audit_log.c.actor).where(
            tables.audit_log.c.action == "contract.read")).scalars().all()
    assert reads == ["user-borrower"]


def test_the_serve_schedule_signs_checkpoints(platform: Platform) -> None:
    from tailguard.batch.schedule import PeriodicCheckpoint
    from tailguard.infra.db.migrate import current_revision

    assert "0002_contracts" in (current_revision(platform.engine) or "")
    booked(platform)
    job = PeriodicCheckpoint(platform, interval_s=3600)
    assert job.run_once() >= 2  # the disbursement entries and the contract
    assert job.run_once() == 0
    with platform.engine.connect() as conn:
        kinds = conn.execute(select(tables.log_leaves.c.kind)).scalars().all()
    assert kinds.count("contract-document") == 1
