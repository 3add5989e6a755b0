"""The registry of compliance checks.

A check is a name, a severity, a one-line description and a function from a `CheckContext`
(the platform, the review date, the document store) to findings. Checks only read; the review
writes one audit row for the run. Names are unique: registering a second check under a used
name is a bug and fails at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailguard.infra.document_store import DocumentStore
    from tailguard.services.platform import Platform


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    reference: str
    """What the finding is about: a loan, a document, an audit row, a checkpoint."""
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity.value,
                "reference": self.reference, "message": self.message}


@dataclass(frozen=True)
class CheckContext:
    platform: Platform
    as_of: date
    store: DocumentStore | None = None


CheckFunction = Callable[[CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    severity: Severity
    description: str
    run: CheckFunction

    def finding(self, reference: str, message: str,
                severity: Severity | None = None) -> Finding:
        return Finding(self.name, severity or self.severity, reference, message)


class Registry:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, check: Check) -> Check:
        assert check.name not in self._checks, f"check {check.name!r} is registered twice"
        self._checks[check.name] = check
        return check

    def check(self, name: str, severity: Severity,
              description: str) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator: register a function as a check."""
        def wrap(function: CheckFunction) -> CheckFunction:
            self.register(Check(name, severity, description, function))
            return function
        return wrap

    def get(self, name: str) -> Check:
        return self._checks[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def __iter__(self) -> Iterator[Check]:
        return iter(tuple(self._checks.values()))

    def __len__(self) -> int:
        return len(self._checks)


REGISTRY = Registry()
"""The platform's registry: `compliance.checks` fills it; other contexts add theirs."""
