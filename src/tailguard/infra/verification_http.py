"""Identity, bank-card, court-record and income verification over HTTP, behind the ports the
sandboxes answer (origination.thirdparty).

Lenders in China usually buy these four checks from one licensed data-service aggregator
rather than from each source (the public-security identity service, the card networks' 四要素
check, the court enforcement and dishonest-debtor lists, social-insurance and income-tax
records), so one base URL and key serve all four: `TAILGUARD_VERIFICATION` (`sandbox`, the
default, or the aggregator's https URL) and `TAILGUARD_VERIFICATION_KEY`. Each check is its own
path and answer shape, mapped here onto the port's frozen value; a provider with other shapes
gets a subclass overriding the `parse_*` method. The applicant's consent reference goes with
every enquiry, as the Personal Information Protection Law requires for sensitive data.
"""

from __future__ import annotations

from typing import Any

import httpx

from tailguard.infra.thirdparty_http import JsonService
from tailguard.origination.thirdparty import (
    CardVerification,
    CourtRecords,
    IdentityVerification,
    IncomeVerification,
    Person,
)

CONSENT = "signed-at-application"


def _person(person: Person) -> dict[str, Any]:
    return {"name": person.name, "id_number": person.id_number, "phone": person.phone,
            "consent": CONSENT}


class HttpIdentityVerifier(JsonService):
    """Name, ID number and phone belong together (三要素), and how long the phone is in use."""

    def __init__(self, base_url: str, api_key: str, *, provider: str = "verification-http",
                 client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key, provider=provider, client=client)

    def parse_identity(self, body: dict[str, Any]) -> IdentityVerification:
        return IdentityVerification(
            provider=self.provider, name_matches_id=bool(body["name_matches_id"]),
            phone_matches_id=bool(body["phone_matches_id"]),
            phone_months_in_service=int(body.get("phone_months_in_service", 0)))

    def verify(self, person: Person) -> IdentityVerification:
        return self.call(self.post("/v1/identity", _person(person)), self.parse_identity)


class HttpCardVerifier(JsonService):
    """Card, holder's name, ID number and the card's reserved phone (四要素)."""

    def __init__(self, base_url: str, api_key: str, *, provider: str = "verification-http",
                 client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key, provider=provider, client=client)

    def parse_card(self, body: dict[str, Any]) -> CardVerification:
        return CardVerification(provider=self.provider,
                                card_matches_holder=bool(body["matches"]),
                                debit_card=str(body.get("card_type", "debit")) == "debit")

    def verify(self, person: Person, card: str) -> CardVerification:
        return self.call(self.post("/v1/bank-card", {**_person(person), "card_number": card}),
                         self.parse_card)


class HttpCourtRecords(JsonService):
    """Enforcement cases (被执行人), the dishonest-debtor list (失信被执行人) and consumption
    restrictions (限制高消费) for the person."""

    def __init__(self, base_url: str, api_key: str, *, provider: str = "verification-http",
                 client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key, provider=provider, client=client)

    def parse_court(self, body: dict[str, Any]) -> CourtRecords:
        return CourtRecords(provider=self.provider,
                            enforcement_cases=len(body["enforcement_cases"]),
                            dishonest_debtor=bool(body["dishonest_debtor"]),
                            consumption_restricted=bool(body.get("consumption_restricted")))

    def search(self, person: Person) -> CourtRecords:
        return self.call(self.post("/v1/court-records", _person(person)), self.parse_court)


class HttpIncomeVerifier(JsonService):
    """Monthly income as social-insurance contributions or income-tax records show it."""

    def __init__(self, base_url: str, api_key: str, *, provider: str = "verification-http",
                 client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key, provider=provider, client=client)

    def parse_income(self, body: dict[str, Any]) -> IncomeVerification:
        found = body.get("monthly_income_fen")
        return IncomeVerification(provider=self.provider, verified=bool(body["verified"]),
                                  verified_monthly_income_fen=None if found is None
                                  else int(found),
                                  source=body.get("source"))

    def verify(self, person: Person, declared_monthly_income_fen: int,
               employer: str | None) -> IncomeVerification:
        return self.call(self.post("/v1/income", {
            **_person(person), "declared_monthly_income_fen": declared_monthly_income_fen,
            "employer": employer}), self.parse_income)
