"""The HTTP adapters of the identity, bank-card, court-record and income checks: each posts
the person with the consent reference and a bearer key to its path, maps the answer onto the
port's value, and turns an outage, a refusal or an answer it cannot read into
ThirdPartyUnavailable (the decision then refers instead of guessing). Settings choose them."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tailguard.infra import verification_http as http
from tailguard.infra.settings import SettingsError, load_settings
from tailguard.origination.thirdparty import (
    CardVerification,
    CourtRecords,
    IdentityVerification,
    IncomeVerification,
    Person,
    ThirdPartyUnavailable,
)
from tailguard.services.origination import third_parties_from_settings

PERSON = Person("张三", "440305198503150011", "+8613800138000")
ANSWERS = {
    "/api/v1/identity": {"name_matches_id": True, "phone_matches_id": False,
                         "phone_months_in_service": 40},
    "/api/v1/bank-card": {"matches": True, "card_type": "credit"},
    "/api/v1/court-records": {"enforcement_cases": [{"case": "(2025)粤0305执123号"}],
                              "dishonest_debtor": True, "consumption_restricted": False},
    "/api/v1/income": {"verified": True, "monthly_income_fen": 1_250_000,
                       "source": "social-insurance"},
}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_each_check_posts_its_path_and_maps_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWERS[request.url.path])

    base, key = "https://data.example/api/", "key-7"
    client = _client(handler)
    assert http.HttpIdentityVerifier(base, key, client=client).verify(PERSON) == \
        IdentityVerification("verification-http", True, False, 40)
    assert http.HttpCardVerifier(base, key, client=client).verify(
        PERSON, "6222021234567890128") == CardVerification("verification-http", True, False)
    assert http.HttpCourtRecords(base, key, client=client).search(PERSON) == \
        CourtRecords("verification-http", 1, True, False)
    assert http.HttpIncomeVerifier(base, key, client=client).verify(
        PERSON, 1_500_000, "深圳某科技有限公司") == \
        IncomeVerification("verification-http", True, 1_250_000, "social-insurance")
    assert [r.url.path for r in seen] == list(ANSWERS)
    for request in seen:
        assert request.headers["Authorization"] == "Bearer key-7"
        body = json.loads(request.content)
        assert body["id_number"] == PERSON.id_number and body["consent"]
    assert json.loads(seen[1].content)["card_number"] == "6222021234567890128"
    assert json.loads(seen[3].content)["declared_monthly_income_fen"] == 1_500_000


@pytest.mark.parametrize("response", [
    httpx.Response(503), httpx.Response(429), httpx.Response(403, text="no consent"),
    httpx.Response(200, json={"unexpected": 1}), httpx.Response(200, text="<html>")])
def test_failures_become_third_party_unavailable(response: httpx.Response) -> None:
    verifier = http.HttpIdentityVerifier("https://d.example", "k",
                                         client=_client(lambda r: response))
    with pytest.raises(ThirdPartyUnavailable, match="verification-http"):
        verifier.verify(PERSON)


def test_an_unreachable_provider_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ThirdPartyUnavailable, match="unreachable"):
        http.HttpCourtRecords("https://d.example", "k", client=_client(refuse)).search(PERSON)


def test_settings_choose_the_http_adapters() -> None:
    parties = third_parties_from_settings(load_settings({
        "TAILGUARD_VERIFICATION": "https://data.example", "TAILGUARD_VERIFICATION_KEY": "k"}))
    assert isinstance(parties.identity, http.HttpIdentityVerifier)
    assert isinstance(parties.cards, http.HttpCardVerifier)
    assert isinstance(parties.courts, http.HttpCourtRecords)
    assert isinstance(parties.income, http.HttpIncomeVerifier)
    assert type(parties.bureau).__name__ == "SandboxBureau"
    with pytest.raises(SettingsError, match="TAILGUARD_VERIFICATION"):
        third_parties_from_settings(load_settings({"TAILGUARD_VERIFICATION": "ftp://x"}))
