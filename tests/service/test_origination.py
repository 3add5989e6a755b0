"""Pre-loan review through the services: submit → decide → replay, overrides needing a second
person, bad input named by field, documents in the store, decisions stored without
identifiers, sandbox cases declining, the HTTP bureau selected by settings."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import tables_origination as t
from tailguard.infra.document_store import document_store_from_settings
from tailguard.infra.settings import load_settings
from tailguard.origination.scoring import ModelScorer
from tailguard.services import origination as svc
from tailguard.services.platform import Platform
from tests.service.factories import with_dealer
from tests.service.origination_fixtures import (
    application_in,
    party,
    train_application_model,
)

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("application-model")
    train_application_model(directory)
    return directory


@pytest.fixture
def scorer(model_dir: Path) -> ModelScorer:
    return ModelScorer(model_dir)


@pytest.fixture
def ready(platform: Platform) -> Platform:
    with_dealer(platform)
    return platform


def test_submit_decide_replay(ready: Platform, scorer: ModelScorer) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in())
    decision = svc.decide_application(ready, "officer-a", app_id, scorer=scorer)
    assert decision.outcome in ("approve", "refer", "decline")
    assert decision.model_version is not None
    assert decision.policy_key is not None and decision.policy_key.startswith("2026-12-04.1+")
    # Residence and household in Shenzhen, dealer in Shenzhen: tier 1, not cross-province.
    assert decision.result["limits"]["tier"] == 1
    assert "CROSS_PROVINCE" not in [r["code"] for r in decision.result["reasons"]]
    replay = svc.replay_decision(ready, decision.decision_id, scorer=scorer)
    assert replay.same and replay.rescored is True
    assert replay.replayed == replay.stored
    shown = svc.get_application(ready, app_id)
    assert shown["status"] == decision.outcome
    assert shown["parties"][0]["id_number"].startswith("440305") and "*" in \
        shown["parties"][0]["id_number"]
    assert len(shown["documents"]) == 6


def test_replay_detects_a_changed_input(ready: Platform, scorer: ModelScorer) -> None:
    """The replay really recomputes: a stored input edited behind its back changes the
    result, so `same` is not a constant."""
    app_id = svc.submit_application(ready, "officer-a", application_in())
    decision = svc.decide_application(ready, "officer-a", app_id, scorer=scorer)
    with ready.engine.begin() as conn:
        stored = json.loads(conn.execute(select(t.credit_decisions.c.inputs).where(
            t.credit_decisions.c.id == decision.decision_id)).scalar_one())
        stored["parties"][0]["courts"]["dishonest_debtor"] = True
        conn.execute(t.credit_decisions.update().where(
            t.credit_decisions.c.id == decision.decision_id).values(inputs=json.dumps(stored)))
    replay = svc.replay_decision(ready, decision.decision_id, scorer=scorer)
    assert not replay.same
    assert replay.replayed["outcome"] == "decline"


def test_decision_stores_no_identifiers(ready: Platform, scorer: ModelScorer) -> None:
    app = application_in()
    app_id = svc.submit_application(ready, "officer-a", app)
    decision = svc.decide_application(ready, "officer-a", app_id, scorer=scorer)
    with ready.engine.connect() as conn:
        row = conn.execute(select(t.credit_decisions).where(
            t.credit_decisions.c.id == decision.decision_id)).mappings().one()
        application = conn.execute(select(t.applications).where(
            t.applications.c.id == app_id)).mappings().one()
    borrower = app.parties[0]
    for text in (row["inputs"], row["result"], application["facts"]):
        assert borrower.id_number not in text and borrower.name not in text
        assert "13800138000" not in text
    assert borrower.id_number.encode() not in application["snapshot_enc"]
    inputs = json.loads(row["inputs"])
    assert inputs["score"]["model_sha256"] == row["model_sha256"]
    assert inputs["parties"][0]["bureau"]["provider"] == "sandbox-bureau"


def test_documents_go_to_the_store(ready: Platform) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in(
        documents=("id-card", "income-proof")))
    store = document_store_from_settings(ready.settings)
    with ready.engine.connect() as conn:
        rows = conn.execute(select(t.application_documents).where(
            t.application_documents.c.application_id == app_id)).mappings().all()
    assert [r["kind"] for r in rows] == ["id-card", "income-proof"]
    assert store.get(rows[1]["storage_key"]).endswith(b"income-proof")


def test_bad_input_names_every_field(ready: Platform) -> None:
    bad_party = replace(party(), id_number="440305198503151230", phone="12345",
                        bank_card="6222020200112233447", name=" ")
    app = replace(application_in(parties=(bad_party,)), dealer_id="D-NOPE",
                  vehicle=replace(application_in().vehicle, vin="LSVAU2180SA00000X"))
    with pytest.raises(InvalidInput) as caught:
        svc.submit_application(ready, "officer-a", app)
    fields = {e.field for e in caught.value.errors}
    assert {"parties[0].id_number", "parties[0].phone", "parties[0].bank_card",
            "parties[0].name", "vehicle.vin", "dealer_id"} <= fields
    with ready.engine.connect() as conn:
        assert conn.execute(select(t.applications)).first() is None


def test_age_limit_at_maturity_and_product_limits(ready: Platform) -> None:
    old = party(birth="19640101", sequence=124)  # 62 now, 67 at maturity of a 60-month loan
    with pytest.raises(InvalidInput) as caught:
        svc.submit_application(ready, "officer-a", application_in(
            parties=(old,), term=60, balloon="0.6"))
    codes = {(e.field, e.code) for e in caught.value.errors}
    assert ("parties[0].id_number", "too_old") in codes
    assert ("balloon_share", "above_maximum") in codes


def test_needs_exactly_one_borrower(ready: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        svc.submit_application(ready, "officer-a", application_in(
            parties=(party("guarantor"),)))
    assert ("parties", "borrower") in {(e.field, e.code) for e in caught.value.errors}


def test_sandbox_dishonest_debtor_declines(ready: Platform, scorer: ModelScorer) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in(
        parties=(party(sequence=901),)))
    decision = svc.decide_application(ready, "officer-a", app_id, scorer=scorer)
    assert decision.outcome == "decline"
    codes = [r["code"] for r in decision.result["reasons"]]
    assert "DISHONEST_DEBTOR" in codes and "CONSUMPTION_RESTRICTED" in codes
    assert decision.result["conditions"] == []
    assert svc.replay_decision(ready, decision.decision_id, scorer=scorer).same


def test_cross_province_high_ltv_gets_conditions(ready: Platform, scorer: ModelScorer) -> None:
    """Household in Beijing, living and buying in Shenzhen: cross-province; a 90 % LTV and a
    40 % balloon exceed the tightened tier-1 limits, so the answer carries a higher down
    payment and a lower balloon (or declines on the score, but never approves as asked)."""
    borrower = party(region="110105", sequence=125)
    app_id = svc.submit_application(ready, "officer-a", application_in(
        parties=(borrower,), down_fen=25_000_00, balloon="0.4"))
    decision = svc.decide_application(ready, "officer-a", app_id, scorer=scorer)
    codes = [r["code"] for r in decision.result["reasons"]]
    assert "CROSS_PROVINCE" in codes and "LTV_ABOVE_LIMIT" in codes
    assert decision.result["limits"]["max_ltv"] == "0.75"
    if decision.outcome != "decline":
        conditions = {c["code"]: c["value"] for c in decision.result["conditions"]}
        facts = svc.get_application(ready, app_id)["facts"]
        fees = facts["principal_fen"] - (250_000_00 - 25_000_00)  # financed fees stay financed
        assert int(conditions["MIN_DOWN_PAYMENT"]) == 62_500_00 + fees
        assert conditions["MAX_BALLOON_SHARE"] == "0.35"


def test_no_model_refers(ready: Platform) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in())
    decision = svc.decide_application(ready, "officer-a", app_id)
    assert decision.outcome == "refer"
    assert "NO_SCORE" in [r["code"] for r in decision.result["reasons"]]
    assert decision.model_version is None
    assert svc.replay_decision(ready, decision.decision_id).same


def test_override_needs_a_second_person(ready: Platform) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in())
    with pytest.raises(Refused) as early:
        svc.request_override(ready, "officer-a", app_id, "approve", "known customer")
    assert early.value.code == "NOT_DECIDED"
    first = svc.decide_application(ready, "officer-a", app_id)  # no model: refer
    with pytest.raises(InvalidInput) as bad:
        svc.request_override(ready, "officer-a", app_id, "approve", "ok",
                             [{"code": "MAX_BALLOON_SHARE", "value": "1.5"}])
    assert bad.value.errors[0].field == "reason"
    pending = svc.request_override(
        ready, "officer-a", app_id, "approve",
        "salary slips from the employer confirm the income",
        [{"code": "MAX_BALLOON_SHARE", "value": "0.25"}])
    assert svc.get_application(ready, app_id)["status"] == "refer"  # nothing changed yet
    with pytest.raises(Refused) as same:
        svc.decide_override(ready, "officer-a", app_id, approve=True)
    assert same.value.code == "SAME_PERSON"
    with pytest.raises(Refused):
        svc.decide_application(ready, "officer-a", app_id)  # OVERRIDE_PENDING
    done = svc.decide_override(ready, "risk-b", app_id, approve=True)
    assert done.status == "approved" and done.checker == "risk-b"
    shown = svc.get_application(ready, app_id)
    assert shown["status"] == "approve"
    last = shown["decisions"][-1]
    assert last["kind"] == "override" and last["decided_by"] == "officer-a"
    assert [d["number"] for d in shown["decisions"]] == [1, 2]
    assert last["approved_by"] == "risk-b"
    assert last["result"]["overrides"]["decision"] == first.decision_id
    assert last["result"]["conditions"] == [{"code": "MAX_BALLOON_SHARE", "value": "0.25"}]
    assert pending.decision_id == first.decision_id
    with pytest.raises(NotFound):
        svc.decide_override(ready, "risk-b", app_id, approve=True)
    with pytest.raises(Refused):
        svc.replay_decision(ready, last["decision_id"])


def test_rejected_override_changes_nothing(ready: Platform) -> None:
    app_id = svc.submit_application(ready, "officer-a", application_in())
    svc.decide_application(ready, "officer-a", app_id)
    svc.request_override(ready, "officer-a", app_id, "decline", "fraud suspected by dealer")
    svc.decide_override(ready, "risk-b", app_id, approve=False)
    shown = svc.get_application(ready, app_id)
    assert shown["status"] == "refer" and len(shown["decisions"]) == 1
    assert shown["override"]["status"] == "rejected"


def test_regional_counts_feed_the_pooled_rate(ready: Platform) -> None:
    """Booked loans count per borrower city; with none defaulted there is no rate."""
    from tailguard.services.booking import book_application
    from tests.service.factories import application

    book_application(ready, "officer", application(1))
    book_application(ready, "officer", application(2, borrower_region="310104",
                                                   residence="310104"))
    with ready.engine.connect() as conn:
        counts = svc.regional_counts(conn)
    assert {(c.city_code, c.loans, c.defaults) for c in counts} == {
        ("440300", 1, 0), ("310000", 1, 0)}


def test_bureau_over_http_selected_by_settings() -> None:
    from tailguard.infra.credit_bureau_http import HttpCreditBureau

    settings = load_settings({"TAILGUARD_CREDIT_BUREAU": "https://bureau.example/api",
                              "TAILGUARD_CREDIT_BUREAU_KEY": "k"})
    parties = svc.third_parties_from_settings(settings)
    assert isinstance(parties.bureau, HttpCreditBureau)
    assert type(svc.third_parties_from_settings(load_settings({})).bureau).__name__ == (
        "SandboxBureau")
