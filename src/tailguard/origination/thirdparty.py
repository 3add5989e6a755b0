"""Third-party data for the review: ports, their answers, and sandbox adapters.

Five outside services answer questions about a person: the credit bureau (征信报告), identity
verification (姓名/身份证/手机号 三要素), bank-card verification (银行卡四要素), court records
(被执行人, 失信被执行人 and 限制消费 lists), and income verification (社保/个税). Each is a
`Protocol` here; its answer is a frozen value that serialises to JSON, because the decision
stores every answer it read, so that it can be replayed without asking anyone again.

The sandbox adapters answer deterministically per ID number: the numbers (accounts, debt,
inquiries, how income compares) are drawn from a generator seeded by SHA-256 of the service
name and the ID number, and adverse answers are reserved to documented sequence codes (digits
15–17 of the ID number), so local runs and tests can ask for a case without touching a real
bureau:

| sequence | sandbox answer |
| --- | --- |
| 901 | on the dishonest-debtor list (失信被执行人) and under consumption restriction |
| 902 | one open enforcement case (被执行人) |
| 903 | bureau: an account overdue now, 95 days past due in the last 24 months |
| 904 | the name does not match the ID number |
| 905 | the phone is not registered to the ID number's holder |
| 906 | income cannot be verified |
| 907 | the bank card is not the applicant's |
| 908 | bureau: no file (thin file) |
| 909 | bureau: 45 days past due in the last 24 months, 9 inquiries in 6 months |

Every other number gets a clean but varied answer. Pure: hashlib and random only.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass
from typing import Any, Protocol


class ThirdPartyUnavailable(RuntimeError):
    """A provider did not answer (network, timeout, 5xx): the decision waits or refers."""


@dataclass(frozen=True)
class BureauReport:
    provider: str
    report_id: str
    hit: bool
    """False for a thin file: the bureau knows no credit history of the person."""
    credit_accounts: int
    open_loans: int
    outstanding_debt_fen: int
    monthly_repayments_fen: int
    overdue_now: bool
    max_dpd_24m: int
    inquiries_6m: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BureauReport:
        return cls(**data)


@dataclass(frozen=True)
class IdentityVerification:
    provider: str
    name_matches_id: bool
    phone_matches_id: bool
    phone_months_in_service: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IdentityVerification:
        return cls(**data)


@dataclass(frozen=True)
class CardVerification:
    provider: str
    card_matches_holder: bool
    """The card, name, ID number and reserved phone belong together (四要素)."""
    debit_card: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardVerification:
        return cls(**data)


@dataclass(frozen=True)
class CourtRecords:
    provider: str
    enforcement_cases: int
    dishonest_debtor: bool
    consumption_restricted: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CourtRecords:
        return cls(**data)


@dataclass(frozen=True)
class IncomeVerification:
    provider: str
    verified: bool
    verified_monthly_income_fen: int | None
    source: str | None  # social-insurance, income-tax

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncomeVerification:
        return cls(**data)


@dataclass(frozen=True)
class Person:
    """What every provider is asked with; the applicant consented to each enquiry."""

    name: str
    id_number: str
    phone: str


class CreditBureau(Protocol):
    def report(self, person: Person) -> BureauReport: ...


class IdentityVerifier(Protocol):
    def verify(self, person: Person) -> IdentityVerification: ...


class CardVerifier(Protocol):
    def verify(self, person: Person, card: str) -> CardVerification: ...


class CourtRecordsSource(Protocol):
    def search(self, person: Person) -> CourtRecords: ...


class IncomeVerifier(Protocol):
    def verify(self, person: Person, declared_monthly_income_fen: int,
               employer: str | None) -> IncomeVerification: ...


@dataclass(frozen=True)
class ThirdParties:
    """The adapters one decision uses, chosen by settings (sandbox by default)."""

    bureau: CreditBureau
    identity: IdentityVerifier
    cards: CardVerifier
    courts: CourtRecordsSource
    income: IncomeVerifier


def _rng(service: str, id_number: str) -> random.Random:
    seed = hashlib.sha256(f"{service}\x00{id_number}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def sandbox_sequence(id_number: str) -> int:
    """Digits 15–17 of an ID number: the sandbox's case selector (see the module table)."""
    return int(id_number[14:17])


class SandboxBureau:
    provider = "sandbox-bureau"

    def report(self, person: Person) -> BureauReport:
        rng = _rng("bureau", person.id_number)
        case = sandbox_sequence(person.id_number)
        report_id = "SBX-" + hashlib.sha256(person.id_number.encode()).hexdigest()[:12].upper()
        if case == 908:
            return BureauReport(self.provider, report_id, False, 0, 0, 0, 0, False, 0, 0)
        accounts = rng.randint(1, 12)
        open_loans = rng.randint(0, min(accounts, 4))
        debt = open_loans * rng.randint(2_000, 150_000) * 100
        repayments = debt // 36 if open_loans else 0
        max_dpd = 15 if rng.random() < 0.1 else 0
        inquiries = rng.randint(0, 5)
        overdue = False
        if case == 903:
            overdue, max_dpd = True, 95
        elif case == 909:
            max_dpd, inquiries = 45, 9
        return BureauReport(self.provider, report_id, True, accounts, open_loans, debt,
                            repayments, overdue, max_dpd, inquiries)


class SandboxIdentityVerifier:
    provider = "sandbox-identity"

    def verify(self, person: Person) -> IdentityVerification:
        rng = _rng("identity", person.id_number)
        case = sandbox_sequence(person.id_number)
        return IdentityVerification(self.provider, case != 904, case != 905,
                                    rng.randint(6, 180))


class SandboxCardVerifier:
    provider = "sandbox-cards"

    def verify(self, person: Person, card: str) -> CardVerification:
        return CardVerification(self.provider, sandbox_sequence(person.id_number) != 907, True)


class SandboxCourtRecords:
    provider = "sandbox-courts"

    def search(self, person: Person) -> CourtRecords:
        case = sandbox_sequence(person.id_number)
        return CourtRecords(self.provider, 1 if case in (901, 902) else 0, case == 901,
                            case == 901)


class SandboxIncomeVerifier:
    provider = "sandbox-income"

    def verify(self, person: Person, declared_monthly_income_fen: int,
               employer: str | None) -> IncomeVerification:
        if sandbox_sequence(person.id_number) == 906:
            return IncomeVerification(self.provider, False, None, None)
        rng = _rng("income", person.id_number)
        factor = rng.randint(85, 105)  # percent of what was declared
        return IncomeVerification(self.provider, True,
                                  declared_monthly_income_fen * factor // 100,
                                  rng.choice(("social-insurance", "income-tax")))


def sandbox_third_parties() -> ThirdParties:
    return ThirdParties(SandboxBureau(), SandboxIdentityVerifier(), SandboxCardVerifier(),
                        SandboxCourtRecords(), SandboxIncomeVerifier())
