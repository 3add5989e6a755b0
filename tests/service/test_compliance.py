"""The internal compliance review: a clean book passes; each planted violation is named by
its check; the command writes an HTML page and an Excel workbook; a broken check is reported,
not lost."""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import delete, insert, select, update

from tailguard.calendar import CalendarFallbackWarning
from tailguard.cli.main import main
from tailguard.compliance.registry import REGISTRY, Check, Registry, Severity
from tailguard.compliance.review import run_review
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_contracts import contract_documents
from tailguard.infra.db.uow import to_json
from tailguard.loans.events import Channel
from tailguard.services import servicing, transparency
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def portfolio(platform: Platform, clock: FixedClock) -> list[str]:
    with_dealer(platform)
    loans = [book_application(platform, "officer", application(k)) for k in (1, 2, 3, 4)]
    clock.advance(timedelta(days=31))
    servicing.post_payment(platform, "ops", loans[0], 4417_73, platform.today(), Channel.APP,
                           "compliance-pay-1")
    transparency.integrate(platform)
    return loans


def test_the_platform_registers_its_checks() -> None:
    assert set(REGISTRY.names()) >= {"contract-missing", "contract-clauses", "extension-cap",
                                     "ledger-reconciled", "log-consistent", "log-coverage",
                                     "pii-read-reason"}
    with pytest.raises(AssertionError, match="twice"):
        REGISTRY.register(REGISTRY.get("extension-cap"))


def test_a_clean_book_passes(platform: Platform, clock: FixedClock) -> None:
    portfolio(platform, clock)
    review = run_review(platform, platform.today())
    assert review.findings == () and review.passed
    assert len(review.results) == len(REGISTRY)


def test_each_planted_violation_is_named(platform: Platform, clock: FixedClock) -> None:
    loans = portfolio(platform, clock)
    with platform.engine.begin() as conn:
        # a contract whose clause record lacks the GPS consent
        clauses = json.loads(conn.execute(select(contract_documents.c.clauses).where(
            contract_documents.c.loan_id == loans[0])).scalar_one())
        conn.execute(update(contract_documents).where(contract_documents.c.loan_id == loans[0])
                     .values(clauses=json.dumps([c for c in clauses if c != "gps-consent"])))
        # a loan extended beyond the cap of its 36-month term (18 months)
        conn.execute(update(tables.loans).where(tables.loans.c.id == loans[1])
                     .values(extended_months=24))
        # a loan whose contract row is gone (never logged, so the log stays consistent)
        conn.execute(delete(contract_documents).where(contract_documents.c.loan_id == loans[2]))
        # the ledger no longer agrees with servicing
        conn.execute(update(tables.loan_state).where(tables.loan_state.c.loan_id == loans[3])
                     .values(principal_outstanding_fen=1))
        # an unmasked read with no reason
        conn.execute(insert(tables.audit_log).values(
            actor="someone", action="pii.read", entity_type="party", entity_id="pty-x",
            detail=to_json({"fields": ["id_number"], "role": "servicing"}),
            recorded_at=platform.clock.now()))
    review = run_review(platform, platform.today())
    named = {(f.check, f.reference) for f in review.findings}
    assert ("contract-clauses", f"{loans[0]}/contract/v1") in named
    assert ("extension-cap", loans[1]) in named
    assert ("contract-missing", loans[2]) in named
    assert ("ledger-reconciled", loans[3]) in named
    assert any(check == "pii-read-reason" for check, _ in named)
    # The deleted contract row had been logged: the log audit names it as deleted.
    assert ("log-consistent", f"{loans[2]}/contract/v1") in named
    messages = " ".join(f.message for f in review.findings)
    assert "gps-consent" in messages and "cap for its 36-month term is 18" in messages


def test_unlogged_records_and_unanchored_checkpoints(
    platform: Platform, clock: FixedClock
) -> None:
    with_dealer(platform)
    book_application(platform, "officer", application(1))
    review = run_review(platform, platform.today(), only=("log-coverage",))
    references = {f.reference for f in review.findings}
    assert references == {"journal entries", "contract documents"}


def test_a_failing_check_is_a_finding(platform: Platform) -> None:
    registry = Registry()

    def broken(_: object) -> list[object]:
        raise RuntimeError("the data source is down")

    registry.register(Check("broken", Severity.LOW, "always fails", broken))  # type: ignore[arg-type]
    review = run_review(platform, platform.today(), registry=registry)
    [finding] = review.findings
    assert finding.reference == "check-failed" and "the data source is down" in finding.message


def test_the_command_writes_html_and_excel(
    platform: Platform, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loans = portfolio(platform, clock)
    with platform.engine.begin() as conn:
        conn.execute(update(tables.loans).where(tables.loans.c.id == loans[1])
                     .values(extended_months=30))
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    runner = CliRunner()
    day = platform.today().isoformat()
    result = runner.invoke(main, ["compliance", "run", "--as-of", day, "--out", str(tmp_path),
                                  "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert [(f["check"], f["reference"]) for f in document["findings"]] == [
        ("extension-cap", loans[1])]
    html = (tmp_path / f"compliance-{day}.html").read_text(encoding="utf-8")
    assert "定期内部审查" in html and loans[1] in html and "extension-cap" in html
    book = load_workbook(tmp_path / f"compliance-{day}.xlsx")
    rows = list(book["Findings"].iter_rows(values_only=True))
    assert rows[0] == ("severity", "check", "reference", "finding")
    assert rows[1][:3] == ("high", "extension-cap", loans[1])
    summary = {row[0]: row[3] for row in book["Summary"].iter_rows(min_row=6, values_only=True)}
    assert summary["extension-cap"] == 1 and summary["ledger-reconciled"] == 0
    bad = runner.invoke(main, ["compliance", "run", "--as-of", "2026-02-30"])
    assert bad.exit_code == 2 and "--as-of" in bad.stderr
    with platform.engine.connect() as conn:
        runs = conn.execute(select(tables.audit_log.c.detail).where(
            tables.audit_log.c.action == "compliance.run")).scalars().all()
    assert len(runs) == 1 and json.loads(runs[0])["findings"] == 1
