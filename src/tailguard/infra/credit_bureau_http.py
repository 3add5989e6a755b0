"""The credit bureau over HTTP (httpx), behind the same port as the sandbox.

The shape of a JSON report service as licensed bureau resellers (持牌征信机构, e.g. through a
bank's 征信 front-end) expose it: `POST {base}/v1/reports` with a bearer key, the person, the
purpose (贷前审批) and the consent reference the applicant signed; the answer's summary fields
map onto `BureauReport`. A provider with another body or signature gets a subclass overriding
`build_request` and `parse`. Tests check the request and the mapping with
`httpx.MockTransport`; a transport error or a 5xx raises `ThirdPartyUnavailable`, so the
service refers or retries rather than deciding without the bureau.

`TAILGUARD_CREDIT_BUREAU` selects it (`sandbox`, the default, or the service's https URL) with
`TAILGUARD_CREDIT_BUREAU_KEY`.
"""

from __future__ import annotations

from typing import Any

import httpx

from tailguard.infra.thirdparty_http import JsonService
from tailguard.origination.thirdparty import BureauReport, Person


class HttpCreditBureau(JsonService):
    def __init__(self, base_url: str, api_key: str, *, provider: str = "bureau-http",
                 client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key, provider=provider, client=client)

    def build_request(self, person: Person) -> httpx.Request:
        return self.post("/v1/reports", {
            "name": person.name, "id_number": person.id_number, "phone": person.phone,
            "purpose": "loan-application", "consent": "signed-at-application"})

    def parse(self, body: dict[str, Any]) -> BureauReport:
        summary = body.get("summary") or {}
        return BureauReport(
            provider=self.provider, report_id=str(body["report_id"]),
            hit=bool(body.get("hit", True)),
            credit_accounts=int(summary.get("accounts", 0)),
            open_loans=int(summary.get("open_loans", 0)),
            outstanding_debt_fen=int(summary.get("outstanding_fen", 0)),
            monthly_repayments_fen=int(summary.get("monthly_repayments_fen", 0)),
            overdue_now=bool(summary.get("overdue_now", False)),
            max_dpd_24m=int(summary.get("max_dpd_24m", 0)),
            inquiries_6m=int(summary.get("inquiries_6m", 0)),
        )

    def report(self, person: Person) -> BureauReport:
        return self.call(self.build_request(person), self.parse)
