"""Pre-loan review (贷前): submit an application, decide it, override with a second person,
replay a stored decision.

- `submit_application` checks every field (origination.application, the product's limits,
  region codes, the dealer), stores the uploads in the document store, and the application
  sealed whole (AES-GCM) with its non-identifying facts beside it, in one unit of work.
- `decide_application` asks the third parties (ports chosen by settings; sandbox by default),
  derives the cross-region signals and the pooled regional default rate, scores with the
  configured model, applies the regional policy, and stores the decision with every input it
  read: a `DecisionInput` without identifiers, the policy body, the model version and hash.
- `replay_decision` runs the pure engine again on what was stored and says whether outcome,
  reasons and conditions are the same (and the score too, when the same model is at hand).
- `request_override` / `decide_override`: an officer proposes another outcome with a reason;
  it takes effect only when a different person approves it (maker-checker, as in
  services/approvals.py), and both names are stored on the new decision.

The providers are asked outside any transaction (they are slow and may fail); nothing is
written when one is unavailable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailguard.calendar import add_months
from tailguard.errors import FieldError, InvalidInput, NotFound, Refused
from tailguard.infra.crypto import FieldCipher, mask_id_number, mask_name, mask_phone
from tailguard.infra.db import tables
from tailguard.infra.db import tables_origination as t
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.uow import to_json
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.infra.settings import Settings, SettingsError
from tailguard.loans.terms import LoanRequest, financed_amount_fen, validate_request
from tailguard.origination.application import (
    ApplicationIn,
    CheckedApplication,
    PartyRole,
    check_application,
)
from tailguard.origination.decision import (
    Decision,
    DecisionInput,
    Outcome,
    PartyFacts,
    decide,
)
from tailguard.origination.policy import CreditPolicy, default_policy, parse_policy
from tailguard.origination.reason_codes import label
from tailguard.origination.regional_rates import RegionCount, pooled_default_rates
from tailguard.origination.scoring import (
    ModelScorer,
    Scorer,
    ScoringUnavailable,
    application_features,
)
from tailguard.origination.thirdparty import (
    Person,
    ThirdParties,
    ThirdPartyUnavailable,
    sandbox_third_parties,
)
from tailguard.regions.cross_region import LoanPlaces, cross_region_signals
from tailguard.regions.divisions import city_code_of, load_divisions
from tailguard.services.platform import Platform

SNAPSHOT_FIELD = "applications.snapshot"
DEFAULT_DPD = 90
"""A loan counts as defaulted for the regional rates at 90+ days past due or written off."""
_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def third_parties_from_settings(settings: Settings) -> ThirdParties:
    """Sandbox adapters, with the bureau over HTTP when `TAILGUARD_CREDIT_BUREAU` is a URL and
    the four verifications over HTTP when `TAILGUARD_VERIFICATION` is one."""
    parties = sandbox_third_parties()
    for name, value in (("TAILGUARD_CREDIT_BUREAU", settings.credit_bureau),
                        ("TAILGUARD_VERIFICATION", settings.verification)):
        if value != "sandbox" and not value.startswith(("https://", "http://")):
            raise SettingsError(f"{name} must be sandbox or the service's URL")
    if settings.credit_bureau != "sandbox":
        from tailguard.infra.credit_bureau_http import HttpCreditBureau

        parties = replace(parties, bureau=HttpCreditBureau(settings.credit_bureau,
                                                           settings.credit_bureau_key or ""))
    if settings.verification != "sandbox":
        from tailguard.infra import verification_http as http

        url, key = settings.verification, settings.verification_key or ""
        parties = replace(parties, identity=http.HttpIdentityVerifier(url, key),
                          cards=http.HttpCardVerifier(url, key),
                          courts=http.HttpCourtRecords(url, key),
                          income=http.HttpIncomeVerifier(url, key))
    return parties


@lru_cache(maxsize=4)
def _model_scorer(directory: str) -> ModelScorer:
    return ModelScorer(Path(directory))


def scorer_from_settings(settings: Settings) -> Scorer | None:
    """The configured application model (loaded once per process and directory), or None."""
    if not settings.application_model:
        return None
    return _model_scorer(settings.application_model)


# -- submit ---------------------------------------------------------------------------------


def _snapshot(app: CheckedApplication, documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "parties": [{
            "role": p.role.value, "name": p.name, "id_number": p.identity.number,
            "phone": p.phone, "bank_card": p.bank_card, "employment": p.employment.value,
            "employment_months": p.employment_months, "employer": p.employer,
            "monthly_income_fen": p.monthly_income_fen,
            "monthly_debt_payments_fen": p.monthly_debt_payments_fen,
            "residence_region_code": p.residence_region_code,
        } for p in app.parties],
        "documents": documents,
    }


def _facts(app: CheckedApplication, dealer_region: str, instalment_fen: int) -> dict[str, Any]:
    """What the review reads, without names, ID numbers, phones or cards."""
    return {
        "application_date": app.application_date, "maturity_date": app.maturity_date,
        "product_code": app.product_code, "term_months": app.term_months,
        "annual_rate": str(app.annual_rate), "vehicle_price_fen": app.vehicle.price_fen,
        "vehicle_condition": app.vehicle.condition, "vehicle_energy": app.vehicle.energy,
        "vin": app.vin, "vehicle_region": app.vehicle.registration_region_code,
        "down_payment_fen": app.down_payment_fen, "principal_fen": app.principal_fen,
        "balloon_share": str(app.balloon_share), "ltv": str(app.ltv),
        "monthly_instalment_fen": instalment_fen, "dealer_id": app.dealer_id,
        "dealer_region": dealer_region, "documents": list(app.document_kinds),
        "parties": [{
            "role": p.role.value, "household_region": p.identity.region_code,
            "residence_region": p.residence_region_code,
            "age_at_application": p.identity.age_on(app.application_date),
            "age_at_maturity": p.identity.age_on(app.maturity_date),
            "employment": p.employment.value, "employment_months": p.employment_months,
            "monthly_income_fen": p.monthly_income_fen,
            "monthly_debt_payments_fen": p.monthly_debt_payments_fen,
        } for p in app.parties],
    }


def _checked(
    errors: list[FieldError], conn: Connection, platform: Platform, application: ApplicationIn,
    day: date,
) -> tuple[CheckedApplication | None, int]:
    repo = LoanRepository(conn, platform.calendar_for)
    product = repo.latest_product(application.product_code)
    # Until the product's schedule says otherwise, the loan ends `term_months` from today, so
    # the age limit at maturity is checked even when the terms themselves are refused.
    maturity = add_months(day, min(max(application.term_months, 0), 600))
    principal, instalment = 0, 0
    if product is None:
        errors.append(FieldError("product_code", "unknown",
                                 f"no product {application.product_code!r}"))
    elif application.vehicle.price_fen > 0:
        principal = financed_amount_fen(application.vehicle.price_fen,
                                        application.down_payment_fen, product)
        try:
            terms = validate_request(product, LoanRequest(
                principal_fen=principal, annual_rate=application.annual_rate,
                term_months=application.term_months, disbursement_date=day,
                balloon_share=application.balloon_share or None,
                vehicle_used=application.vehicle.condition == "used"))
            schedule = terms.initial_schedule()
            maturity = schedule.maturity_date
            instalment = schedule.installments[0].payment_fen
        except InvalidInput as bad:
            renamed = {"term": "term_months", "principal": "down_payment",
                       "balloon": "balloon_share"}
            errors.extend(FieldError(renamed.get(e.field, e.field), e.code, e.message)
                          for e in bad.errors)
    try:
        checked = check_application(application, application_date=day, maturity_date=maturity,
                                    principal_fen=principal)
    except InvalidInput as bad:
        errors.extend(bad.errors)
        return None, instalment
    return checked, instalment


def submit_application(
    platform: Platform, actor: str, application: ApplicationIn,
    *, store: DocumentStore | None = None,
) -> str:
    """Check, store the documents, and record the application; its id."""
    day = platform.today()
    errors: list[FieldError] = []
    application_id = "APP" + uuid.uuid4().hex[:16].upper()
    with platform.uow(actor) as uow:
        conn = uow.connection
        checked, instalment = _checked(errors, conn, platform, application, day)
        codes: dict[str, str] = {}
        for index, party in enumerate(application.parties):
            if party.residence_region_code:
                codes[f"parties[{index}].residence_region_code"] = party.residence_region_code
        if application.vehicle.registration_region_code:
            codes["vehicle.registration_region_code"] = (
                application.vehicle.registration_region_code)
        known = set(conn.execute(select(tables.regions.c.code).where(
            tables.regions.c.code.in_(list(codes.values())))).scalars())
        errors.extend(FieldError(name, "unknown_region",
                                 f"{code} is not a GB/T 2260 region code")
                      for name, code in codes.items() if code not in known)
        dealer_region = conn.execute(select(tables.dealers.c.region_code).where(
            tables.dealers.c.id == application.dealer_id)).scalar_one_or_none()
        if dealer_region is None and application.dealer_id.strip():
            errors.append(FieldError("dealer_id", "unknown",
                                     f"no dealer {application.dealer_id!r}"))
        if errors:
            raise InvalidInput(errors)
        assert checked is not None and dealer_region is not None
        store = store or document_store_from_settings(platform.settings)
        stored: list[dict[str, Any]] = []
        for index, document in enumerate(application.documents):
            digest = hashlib.sha256(document.data).hexdigest()
            key = (f"applications/{application_id}/{index:02d}-{document.kind}-{digest[:16]}."
                   f"{_EXTENSIONS[document.content_type]}")
            # Write-once and keyed by content: a rolled-back submission leaves an orphan file,
            # never a row without its file.
            store.put(key, document.data, document.content_type)
            stored.append({"kind": str(document.kind), "content_type": document.content_type,
                           "sha256": digest, "size_bytes": len(document.data),
                           "storage_key": key, "filename": document.filename})
        cipher = FieldCipher.from_settings(platform.settings)
        facts = _facts(checked, dealer_region, instalment)
        conn.execute(insert(t.applications).values(
            id=application_id, status="submitted", dealer_id=checked.dealer_id,
            product_code=checked.product_code, application_date=day,
            principal_fen=checked.principal_fen,
            borrower_id_hash=cipher.lookup_hash("id_number", checked.borrower.identity.number),
            snapshot_enc=cipher.encrypt(SNAPSHOT_FIELD, to_json(_snapshot(checked, stored))),
            facts=to_json(facts), submitted_by=actor, recorded_at=uow.clock.now()))
        if stored:
            conn.execute(insert(t.application_documents), [
                {"application_id": application_id, "kind": d["kind"],
                 "content_type": d["content_type"], "sha256": d["sha256"],
                 "size_bytes": d["size_bytes"], "storage_key": d["storage_key"],
                 "recorded_at": uow.clock.now()} for d in stored])
        uow.audit("application.submit", "application", application_id,
                  {"principal_fen": checked.principal_fen, "documents": len(stored)})
        uow.emit("ApplicationSubmitted", application_id,
                 {"application_id": application_id, "dealer_id": checked.dealer_id}, day)
        uow.commit()
    return application_id


# -- decide ---------------------------------------------------------------------------------


def _load(conn: Connection, application_id: str) -> Any:
    row = conn.execute(select(t.applications).where(
        t.applications.c.id == application_id)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"application {application_id} does not exist")
    return row


def regional_counts(conn: Connection) -> list[RegionCount]:
    """Loans and defaulted loans per borrower's city (residence, else household registration),
    counted in SQL."""
    parties = tables.parties
    region = func.coalesce(parties.c.residence_region_code, parties.c.id_region_code)
    bad = case((tables.loans.c.status == "written-off", 1),
               (func.coalesce(tables.loan_state.c.dpd, 0) >= DEFAULT_DPD, 1), else_=0)
    rows = conn.execute(
        select(region.label("region"), func.count().label("loans"), func.sum(bad).label("bad"))
        .select_from(tables.loans.join(parties, parties.c.id == tables.loans.c.borrower_id)
                     .outerjoin(tables.loan_state,
                                tables.loan_state.c.loan_id == tables.loans.c.id))
        .group_by(region)).all()
    by_city: dict[str, list[int]] = {}
    for code, loans, bads in rows:
        if not code:
            continue
        city = city_code_of(code) or code
        totals = by_city.setdefault(city, [0, 0])
        totals[0] += int(loans)
        totals[1] += int(bads or 0)
    return [RegionCount(city, n, d) for city, (n, d) in sorted(by_city.items())]


def _ask(parties: ThirdParties, snapshot: dict[str, Any], facts: dict[str, Any]
         ) -> tuple[PartyFacts, ...]:
    out = []
    for raw, derived in zip(snapshot["parties"], facts["parties"], strict=True):
        person = Person(raw["name"], raw["id_number"], raw["phone"])
        earner = raw["role"] in (PartyRole.BORROWER, PartyRole.CO_BORROWER)
        out.append(PartyFacts(
            role=raw["role"], age_at_application=derived["age_at_application"],
            age_at_maturity=derived["age_at_maturity"],
            household_region=derived["household_region"],
            residence_region=derived["residence_region"], employment=derived["employment"],
            employment_months=derived["employment_months"],
            declared_monthly_income_fen=derived["monthly_income_fen"],
            declared_monthly_debt_fen=derived["monthly_debt_payments_fen"],
            bureau=parties.bureau.report(person), identity=parties.identity.verify(person),
            courts=parties.courts.search(person),
            card=parties.cards.verify(person, raw["bank_card"]) if raw["bank_card"] else None,
            income=parties.income.verify(person, raw["monthly_income_fen"], raw["employer"])
            if earner else None,
        ))
    return tuple(out)


@dataclass(frozen=True)
class DecisionView:
    decision_id: str
    application_id: str
    number: int
    kind: str
    outcome: str
    result: dict[str, Any]
    policy_key: str | None
    model_version: str | None
    decided_by: str
    approved_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _view(row: Any) -> DecisionView:
    return DecisionView(row["id"], row["application_id"], row["number"], row["kind"],
                        row["outcome"],
                        json.loads(row["result"]), row["policy_key"], row["model_version"],
                        row["decided_by"], row["approved_by"])


def build_inputs(
    platform: Platform, application_id: str, parties: ThirdParties, scorer: Scorer | None,
) -> DecisionInput:
    """Everything the engine reads, gathered now: providers, signals, regional rate, score."""
    cipher = FieldCipher.from_settings(platform.settings)
    with platform.engine.connect() as conn:
        row = _load(conn, application_id)
        counts = regional_counts(conn)
    snapshot = json.loads(cipher.decrypt(SNAPSHOT_FIELD, row["snapshot_enc"]))
    facts = json.loads(row["facts"])
    try:
        party_facts = _ask(parties, snapshot, facts)
    except ThirdPartyUnavailable as exc:
        raise Refused("THIRD_PARTY_UNAVAILABLE", str(exc)) from exc
    borrower = next(p for p in party_facts if p.role == PartyRole.BORROWER)
    signals = cross_region_signals(load_divisions(), LoanPlaces(
        borrower.household_region, borrower.residence_region, facts["dealer_region"],
        facts["vehicle_region"]))
    rates = pooled_default_rates(counts)
    inputs = DecisionInput(
        application_id=application_id, application_date=facts["application_date"],
        product_code=facts["product_code"], term_months=facts["term_months"],
        annual_rate=facts["annual_rate"], vehicle_price_fen=facts["vehicle_price_fen"],
        vehicle_condition=facts["vehicle_condition"],
        down_payment_fen=facts["down_payment_fen"], principal_fen=facts["principal_fen"],
        balloon_share=facts["balloon_share"],
        monthly_instalment_fen=facts["monthly_instalment_fen"],
        dealer_region=facts["dealer_region"], vehicle_region=facts["vehicle_region"],
        documents=tuple(facts["documents"]), parties=party_facts,
        cross_city=signals.cross_city, cross_province=signals.cross_province,
        max_distance_km=(round(signals.max_distance_km, 1)
                         if signals.max_distance_km is not None else None),
        regional_rate=None, score=None)
    if rates is not None:
        inputs = replace(inputs, regional_rate=rates.rate_for(inputs.policy_region))
    if scorer is not None:
        # Without a score the engine refers the application (NO_SCORE).
        with contextlib.suppress(ScoringUnavailable):
            inputs = replace(inputs, score=scorer.score(application_features(inputs)))
    return inputs


def _store_policy(conn: Connection, policy: CreditPolicy, now: Any) -> None:
    exists = conn.execute(select(t.credit_policies.c.key).where(
        t.credit_policies.c.key == policy.key)).scalar_one_or_none()
    if exists is None:
        conn.execute(insert(t.credit_policies).values(key=policy.key, body=policy.body,
                                                      recorded_at=now))


def decide_application(
    platform: Platform, actor: str, application_id: str, *,
    third_parties: ThirdParties | None = None, scorer: Scorer | None = None,
    policy: CreditPolicy | None = None,
) -> DecisionView:
    """Decide (or decide again) an application; each decision is a new stored row."""
    parties = third_parties or third_parties_from_settings(platform.settings)
    model = scorer if scorer is not None else scorer_from_settings(platform.settings)
    policy = policy or default_policy()
    inputs = build_inputs(platform, application_id, parties, model)
    decision = decide(inputs, policy)
    decision_id = "DEC" + uuid.uuid4().hex[:16].upper()
    with platform.uow(actor) as uow:
        conn = uow.connection
        pending = conn.execute(select(t.decision_overrides.c.id).where(
            t.decision_overrides.c.application_id == application_id,
            t.decision_overrides.c.status == "pending")).scalar_one_or_none()
        if pending is not None:
            raise Refused("OVERRIDE_PENDING",
                          f"override {pending} awaits a second person; decide it first")
        now = uow.clock.now()
        _store_policy(conn, policy, now)
        values = {
            "id": decision_id, "application_id": application_id,
            "number": _next_number(conn, application_id), "kind": "engine",
            "outcome": decision.outcome.value, "result": to_json(decision.to_json()),
            "inputs": to_json(inputs.to_json()), "policy_key": policy.key,
            "model_version": inputs.score.model_version if inputs.score else None,
            "model_sha256": inputs.score.model_sha256 if inputs.score else None,
            "decided_by": actor, "approved_by": None, "recorded_at": now}
        try:
            conn.execute(insert(t.credit_decisions).values(**values))
        except IntegrityError as exc:
            raise Refused("DECIDED_MEANWHILE",
                          "another decision of this application was stored meanwhile") from exc
        conn.execute(update(t.applications).where(t.applications.c.id == application_id)
                     .values(status=decision.outcome.value))
        uow.audit("application.decide", "application", application_id,
                  {"decision": decision_id, "outcome": decision.outcome.value,
                   "reasons": [r.code for r in decision.reasons], "policy": policy.key})
        uow.emit("ApplicationDecided", application_id,
                 {"application_id": application_id, "decision_id": decision_id,
                  "outcome": decision.outcome.value}, platform.today())
        uow.commit()
    return _view(values)


# -- replay ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    decision_id: str
    same: bool
    stored: dict[str, Any]
    replayed: dict[str, Any]
    rescored: bool | None
    """True/False: the model at hand (same version and hash) gave the same score again or
    not; None: no such model at hand, the stored score was used."""


def replay_decision(platform: Platform, decision_id: str, *,
                    scorer: Scorer | None = None) -> Replay:
    """The engine run again on a decision's stored inputs and stored policy body."""
    with platform.engine.connect() as conn:
        row = conn.execute(select(t.credit_decisions).where(
            t.credit_decisions.c.id == decision_id)).mappings().one_or_none()
        if row is None:
            raise NotFound(f"decision {decision_id} does not exist")
        if row["kind"] != "engine":
            raise Refused("NOT_REPLAYABLE", "an override is a person's decision, not the engine's")
        body = conn.execute(select(t.credit_policies.c.body).where(
            t.credit_policies.c.key == row["policy_key"])).scalar_one()
    inputs = DecisionInput.from_json(json.loads(row["inputs"]))
    policy = parse_policy(body)
    rescored: bool | None = None
    model = scorer if scorer is not None else scorer_from_settings(platform.settings)
    if model is not None and inputs.score is not None:
        try:
            again = model.score(inputs.score.features)
        except ScoringUnavailable:
            again = None
        if again is not None and (again.model_version, again.model_sha256) == (
                inputs.score.model_version, inputs.score.model_sha256):
            rescored = again == inputs.score
    replayed = decide(inputs, policy).to_json()
    stored = json.loads(row["result"])
    return Replay(decision_id, replayed == stored and rescored is not False, stored, replayed,
                  rescored)


# -- overrides (maker-checker) ----------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    override_id: str
    application_id: str
    decision_id: str
    outcome: str
    conditions: list[dict[str, str]]
    reason: str
    maker: str
    checker: str | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_decision(conn: Connection, application_id: str) -> Any:
    return conn.execute(select(t.credit_decisions).where(
        t.credit_decisions.c.application_id == application_id)
        .order_by(t.credit_decisions.c.number.desc()).limit(1)).mappings().one_or_none()


def _next_number(conn: Connection, application_id: str) -> int:
    """The application's next decision number; the unique constraint on (application,
    number) turns two concurrent decisions into one commit and one conflict."""
    latest = conn.execute(select(func.max(t.credit_decisions.c.number)).where(
        t.credit_decisions.c.application_id == application_id)).scalar_one_or_none()
    return (latest or 0) + 1


def _check_conditions(conditions: list[dict[str, str]]) -> list[dict[str, str]]:
    checked = []
    for index, condition in enumerate(conditions):
        code, value = condition.get("code"), str(condition.get("value", ""))
        field = f"conditions[{index}]"
        if code == "MIN_DOWN_PAYMENT":
            if not value.isdigit():
                raise InvalidInput.one(field + ".value", "not_fen", "a whole number of fen")
        elif code == "MAX_BALLOON_SHARE":
            try:
                share = Decimal(value)
            except ArithmeticError as exc:
                raise InvalidInput.one(field + ".value", "not_share", "a share from 0 to 1"
                                       ) from exc
            if not Decimal(0) <= share < Decimal(1):
                raise InvalidInput.one(field + ".value", "not_share", "a share from 0 to 1")
        elif code != "DOCUMENTS":
            raise InvalidInput.one(field + ".code", "unknown",
                                   "must be MIN_DOWN_PAYMENT, MAX_BALLOON_SHARE or DOCUMENTS")
        checked.append({"code": code, "value": value})
    return checked


def request_override(
    platform: Platform, maker: str, application_id: str, outcome: str, reason: str,
    conditions: list[dict[str, str]] | None = None,
) -> Override:
    """Propose another outcome for the latest decision; nothing changes until approved."""
    try:
        wanted = Outcome(outcome)
    except ValueError as exc:
        raise InvalidInput.one("outcome", "unknown", "must be approve, refer or decline") from exc
    if len(reason.strip()) < 5:
        raise InvalidInput.one("reason", "missing", "say why, in at least 5 characters")
    checked = _check_conditions(conditions or [])
    if wanted is Outcome.DECLINE and checked:
        raise InvalidInput.one("conditions", "not_allowed", "a decline carries no conditions")
    override_id = "OVR" + uuid.uuid4().hex[:16].upper()
    with platform.uow(maker) as uow:
        conn = uow.connection
        _load(conn, application_id)
        latest = _latest_decision(conn, application_id)
        if latest is None:
            raise Refused("NOT_DECIDED", "the application has no decision to override yet")
        pending = conn.execute(select(t.decision_overrides.c.id).where(
            t.decision_overrides.c.application_id == application_id,
            t.decision_overrides.c.status == "pending")).scalar_one_or_none()
        if pending is not None:
            raise Refused("OVERRIDE_PENDING", f"override {pending} already awaits a checker")
        conn.execute(insert(t.decision_overrides).values(
            id=override_id, application_id=application_id, decision_id=latest["id"],
            outcome=wanted.value, conditions=to_json(checked), reason=reason.strip(),
            maker=maker, checker=None, status="pending", recorded_at=uow.clock.now()))
        uow.audit("application.override.request", "application", application_id,
                  {"override": override_id, "from": latest["outcome"], "to": wanted.value,
                   "reason": reason.strip()})
        uow.commit()
    return Override(override_id, application_id, latest["id"], wanted.value, checked,
                    reason.strip(), maker, None, "pending")


def decide_override(platform: Platform, checker: str, application_id: str,
                    approve: bool) -> Override:
    """Approve or reject the application's pending override; the checker is another person."""
    with platform.uow(checker) as uow:
        conn = uow.connection
        row = conn.execute(select(t.decision_overrides).where(
            t.decision_overrides.c.application_id == application_id,
            t.decision_overrides.c.status == "pending")).mappings().one_or_none()
        if row is None:
            raise NotFound(f"application {application_id} has no pending override")
        if row["maker"] == checker:
            raise Refused("SAME_PERSON", "the checker must be another person than the maker")
        status = "approved" if approve else "rejected"
        now = uow.clock.now()
        changed = conn.execute(update(t.decision_overrides).where(
            t.decision_overrides.c.id == row["id"],
            t.decision_overrides.c.status == "pending")
            .values(status=status, checker=checker, decided_at=now)).rowcount
        if changed != 1:
            raise Refused("NOT_PENDING", f"override {row['id']} was decided meanwhile")
        if approve:
            original = conn.execute(select(t.credit_decisions).where(
                t.credit_decisions.c.id == row["decision_id"])).mappings().one()
            zh, en = label("OVERRIDE")
            result = {
                "outcome": row["outcome"],
                "reasons": [{"code": "OVERRIDE", "party": None, "detail": row["reason"],
                             "zh": f"{zh}（{row['reason']}）", "en": f"{en} ({row['reason']})"}],
                "conditions": json.loads(row["conditions"]),
                "overrides": {"decision": original["id"], "outcome": original["outcome"]},
            }
            conn.execute(insert(t.credit_decisions).values(
                id="DEC" + uuid.uuid4().hex[:16].upper(), application_id=application_id,
                number=_next_number(conn, application_id), kind="override",
                outcome=row["outcome"], result=to_json(result), inputs=None,
                policy_key=original["policy_key"], model_version=original["model_version"],
                model_sha256=original["model_sha256"], decided_by=row["maker"],
                approved_by=checker, recorded_at=now))
            conn.execute(update(t.applications).where(t.applications.c.id == application_id)
                         .values(status=row["outcome"]))
            uow.emit("ApplicationDecided", application_id,
                     {"application_id": application_id, "outcome": row["outcome"],
                      "override": row["id"]}, platform.today())
        uow.audit(f"application.override.{status}", "application", application_id,
                  {"override": row["id"], "maker": row["maker"], "to": row["outcome"]})
        uow.commit()
    return Override(row["id"], application_id, row["decision_id"], row["outcome"],
                    json.loads(row["conditions"]), row["reason"], row["maker"], checker, status)


# -- read -----------------------------------------------------------------------------------


def get_application(platform: Platform, application_id: str) -> dict[str, Any]:
    """The application for a screen: facts, masked parties, documents, decisions, override."""
    cipher = FieldCipher.from_settings(platform.settings)
    with platform.engine.connect() as conn:
        row = _load(conn, application_id)
        documents = conn.execute(select(t.application_documents).where(
            t.application_documents.c.application_id == application_id)
            .order_by(t.application_documents.c.id)).mappings().all()
        decisions = conn.execute(select(t.credit_decisions).where(
            t.credit_decisions.c.application_id == application_id)
            .order_by(t.credit_decisions.c.number)).mappings().all()
        override = conn.execute(select(t.decision_overrides).where(
            t.decision_overrides.c.application_id == application_id)
            .order_by((t.decision_overrides.c.status == "pending").desc(),
                      t.decision_overrides.c.recorded_at.desc()).limit(1)
        ).mappings().one_or_none()
    snapshot = json.loads(cipher.decrypt(SNAPSHOT_FIELD, row["snapshot_enc"]))
    return {
        "application_id": row["id"], "status": row["status"], "dealer_id": row["dealer_id"],
        "submitted_by": row["submitted_by"], "facts": json.loads(row["facts"]),
        "parties": [{"role": p["role"], "name": mask_name(p["name"]),
                     "id_number": mask_id_number(p["id_number"]),
                     "phone": mask_phone(p["phone"])} for p in snapshot["parties"]],
        "documents": [{"kind": d["kind"], "content_type": d["content_type"],
                       "sha256": d["sha256"], "size_bytes": d["size_bytes"]}
                      for d in documents],
        "decisions": [_view(d).to_dict() for d in decisions],
        "override": None if override is None else {
            "override_id": override["id"], "outcome": override["outcome"],
            "status": override["status"], "maker": override["maker"],
            "checker": override["checker"], "reason": override["reason"]},
    }


__all__ = ["Decision", "DecisionView", "Override", "Replay", "decide_application",
           "decide_override", "get_application", "replay_decision", "request_override",
           "submit_application", "third_parties_from_settings"]
