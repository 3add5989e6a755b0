"""Running the review: every registered check for one date, one audit row for the run.

A check that raises does not stop the review: it becomes a `check-failed` finding of its own
severity, so the report is written and says which check could not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tailguard.compliance import checks as _checks  # noqa: F401  (registers the checks)
from tailguard.compliance import recovery_checks as _recovery_checks  # noqa: F401
from tailguard.compliance.registry import REGISTRY, Check, CheckContext, Finding, Registry
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.services.platform import Platform


@dataclass(frozen=True)
class CheckResult:
    check: Check
    findings: tuple[Finding, ...]
    error: str | None = None


@dataclass(frozen=True)
class Review:
    as_of: date
    generated_at: datetime
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.results for f in r.findings)

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "passed": self.passed,
            "checks": [
                {"name": r.check.name, "severity": r.check.severity.value,
                 "description": r.check.description, "findings": len(r.findings),
                 "error": r.error}
                for r in self.results
            ],
            "findings": [f.to_dict() for f in self.findings],
        }


def run_review(
    platform: Platform, as_of: date, *, actor: str = "compliance",
    registry: Registry | None = None, store: DocumentStore | None = None,
    only: tuple[str, ...] = (),
) -> Review:
    """Run the checks (all, or those named in `only`) as of `as_of`."""
    registry = registry if registry is not None else REGISTRY
    store = store if store is not None else document_store_from_settings(platform.settings)
    context = CheckContext(platform, as_of, store)
    results: list[CheckResult] = []
    for check in registry:
        if only and check.name not in only:
            continue
        try:
            results.append(CheckResult(check, tuple(check.run(context))))
        except Exception as exc:  # a broken check is a finding, not a lost report
            message = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(check, (Finding(
                check.name, check.severity, "check-failed",
                f"the check could not run: {message}"),), message))
    review = Review(as_of, platform.clock.now(), tuple(results))
    with platform.uow(actor) as uow:
        uow.audit("compliance.run", "compliance", as_of.isoformat(), {
            "checks": [r.check.name for r in results], "findings": len(review.findings)})
        uow.commit()
    return review
