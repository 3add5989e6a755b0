"""Collections in the console: the collector's queue (the next case with the contact
policy's answer for calling now), a case's work page (the policy's answer for the contact
chosen, before it is made; record a contact and its outcome; record a promise to pay), the
field teams' day plans drawn on a map, and partner management.

Every write goes through the recovery services (`recovery_cases.contact`, `record_promise`,
`recovery_work.plan_field_day`, `recovery_partners.save_partner`), which check and audit it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.auth import Role
from tailguard.money.amount import AmountError, parse_major
from tailguard.services import console_views, recovery_cases, recovery_partners, recovery_work
from tailguard.services.contacts import ContactCommand
from tailguard.web import console_charts, i18n
from tailguard.web.common import (
    FormErrors,
    check_csrf,
    language,
    platform_of,
    redirect,
    render,
    staff,
)
from tailguard.web.console_support import (
    FIELD_PLANNERS,
    FIELD_READERS,
    PARTNER_EDITORS,
    PARTNER_READERS,
    QUEUE_WORKERS,
    actor,
    errors_of,
    one_error,
)

router = APIRouter(prefix="/console", include_in_schema=False)

CHANNELS = (Channel.CALL, Channel.SMS, Channel.WECHAT, Channel.EMAIL, Channel.LETTER)
PARTIES = (Party.DEBTOR, Party.GUARANTOR, Party.RELATIVE, Party.EMPLOYER, Party.OTHER_CONTACT)
OUTCOMES = (Outcome.CONNECTED, Outcome.NO_ANSWER, Outcome.INVALID_NUMBER, Outcome.REFUSED,
            Outcome.NOT_MADE, Outcome.SENT)


def _options(lang: str, prefix: str, values: Any) -> list[tuple[str, str]]:
    return [(v.value, i18n.translate(lang, f"{prefix}.{v.value}")) for v in values]


# -- the queue and a case ----------------------------------------------------------------------
@router.get("/collections/next")
def next_case_page(request: Request) -> HTMLResponse:
    """Who to call next: the service picks the case the policy allows calling now."""
    user = staff(request, *QUEUE_WORKERS)
    platform = platform_of(request)
    found = recovery_work.next_case(platform, actor(user))
    if found["case"] is None:
        return render(request, "console_queue.html", {"user": user, "next": found})
    return _case_page(request, int(found["case"]["id"]), queue=found)


@router.get("/collections/cases/{case_id}")
def case_page(
    request: Request, case_id: int,
    channel: Annotated[str, Query(max_length=20)] = "call",
    party: Annotated[str, Query(max_length=20)] = "debtor",
    party_ref: Annotated[str, Query(max_length=80)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    staff(request, *QUEUE_WORKERS)
    return _case_page(request, case_id, channel=channel, party=party, party_ref=party_ref,
                      notice=done)


def _case_page(request: Request, case_id: int, *, queue: dict[str, Any] | None = None,
               channel: str = "call", party: str = "debtor", party_ref: str = "",
               notice: str = "",
               form: dict[str, Any] | None = None, errors: FormErrors | None = None,
               answer: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    user = staff(request, *QUEUE_WORKERS)
    platform = platform_of(request)
    lang = language(request)
    who = actor(user)
    if case_id < 1 or case_id > 2**31 - 1:
        raise NotFound(str(case_id))
    detail = recovery_cases.case_detail(platform, who, case_id)
    errors = errors or FormErrors.none()
    try:
        chosen_channel, chosen_party = Channel(channel), Party(party)
    except ValueError:
        chosen_channel, chosen_party = Channel.CALL, Party.DEBTOR
    party_ref = party_ref.strip()
    preview = None
    if detail["case"]["status"] == "open":
        if queue is not None and (chosen_channel, chosen_party) == (Channel.CALL, Party.DEBTOR):
            preview = queue["contact_policy"]
        else:
            try:
                preview = console_views.preview_contact(platform, who, case_id, chosen_channel,
                                                        chosen_party, party_ref or None)
            except InvalidInput as exc:  # e.g. a third party not named: say so, ask nothing
                errors = FormErrors({**errors.fields, **FormErrors.of(exc, lang).fields},
                                    errors.general)
                status_code = max(status_code, 422)
    today = platform.today()
    return render(request, "console_case.html", {
        "user": user, "detail": detail, "case": detail["case"], "queue": queue,
        "preview": preview, "channel": chosen_channel.value, "party": chosen_party.value,
        "party_ref": party_ref,
        "channels": _options(lang, "channel", CHANNELS),
        "parties": _options(lang, "party", PARTIES),
        "outcomes": _options(lang, "contact_outcome", OUTCOMES),
        "loan_options": [(x["loan_id"], x["loan_id"]) for x in detail["loans"]],
        "form": form or {"outcome": "connected", "note": "", "amount": "",
                         "due_date": "", "loan_id": ""},
        "errors": errors, "notice": notice, "answer": answer, "today": today,
    }, status_code)


@router.post("/collections/cases/{case_id}/contacts")
def record_contact(
    request: Request, case_id: int,
    channel: Annotated[str, Form(max_length=20)] = "",
    party: Annotated[str, Form(max_length=20)] = "debtor",
    party_ref: Annotated[str, Form(max_length=80)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make the contact through the conduct guard: an allowed one is logged with its outcome,
    a blocked one is logged as blocked and the page says why."""
    check_csrf(request, csrf)
    user = staff(request, *QUEUE_WORKERS)
    lang = language(request)
    form = {"outcome": outcome, "note": note, "amount": "", "due_date": "", "loan_id": ""}
    try:
        chosen_channel = Channel(channel)
    except ValueError:
        return _case_page(request, case_id, form=form, status_code=422, errors=one_error(
            "channel", "invalid", "choose a channel", lang))
    try:
        chosen_party = Party(party)
    except ValueError:
        return _case_page(request, case_id, form=form, status_code=422, errors=one_error(
            "party", "invalid", "choose who is contacted", lang))
    try:
        chosen_outcome = Outcome(outcome)
    except ValueError:
        return _case_page(request, case_id, channel=channel, party=party, form=form,
                          status_code=422, errors=one_error(
                              "outcome", "invalid", "say what happened", lang))
    purpose = Purpose.COLLECTION if chosen_party.is_obligor else Purpose.LOCATION
    command = ContactCommand(chosen_channel, purpose, chosen_party,
                             party_ref=party_ref.strip() or None)
    try:
        result = recovery_cases.contact(platform_of(request), actor(user), case_id, command,
                                        chosen_outcome, note.strip() or None)
    except (InvalidInput, Refused) as exc:
        return _case_page(request, case_id, channel=channel, party=party,
                          party_ref=party_ref, form=form, errors=errors_of(exc, lang),
                          status_code=422)
    return _case_page(request, case_id, channel=channel, party=party, party_ref=party_ref,
                      answer=result,
                      notice="contact-allowed" if result["allowed"] else "contact-blocked")


@router.post("/collections/cases/{case_id}/promises")
def record_promise(
    request: Request, case_id: int,
    amount: Annotated[str, Form(max_length=30)] = "",
    due_date: Annotated[str, Form(max_length=20)] = "",
    loan_id: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = staff(request, *QUEUE_WORKERS)
    lang = language(request)
    form = {"outcome": "connected", "note": "", "amount": amount, "due_date": due_date,
            "loan_id": loan_id}
    errors = FormErrors.none()
    fen = 0
    try:
        fen = parse_major(amount.strip())
    except AmountError:
        errors.fields["amount"] = i18n.field_error(lang, "amount", "format",
                                                   "yuan with at most two decimals")
    due: date | None = None
    try:
        due = date.fromisoformat(due_date.strip())
    except ValueError:
        errors.fields["due_date"] = i18n.field_error(lang, "due_date", "format",
                                                     "a date, YYYY-MM-DD")
    if errors or due is None:
        return _case_page(request, case_id, form=form, errors=errors, status_code=422)
    try:
        recovery_cases.record_promise(platform_of(request), actor(user), case_id, fen, due,
                                      loan_id or None)
    except (InvalidInput, Refused) as exc:
        errors = errors_of(exc, lang)
        if "due_on" in errors.fields:
            errors.fields["due_date"] = errors.fields.pop("due_on")
        if "amount_fen" in errors.fields:
            errors.fields["amount"] = errors.fields.pop("amount_fen")
        return _case_page(request, case_id, form=form, errors=errors, status_code=422)
    return redirect(f"/console/collections/cases/{case_id}?done=promise")


# -- field plans ---------------------------------------------------------------------------
@router.get("/field-plans")
def field_plans_page(
    request: Request,
    team: Annotated[str, Query(max_length=40)] = "",
    day: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    user = staff(request, *FIELD_READERS)
    return _field_page(request, user.role, team, day)


def _field_page(request: Request, role: Role, team: str, day: str,
                errors: FormErrors | None = None, notice: str = "",
                status_code: int = 200) -> HTMLResponse:
    user = staff(request, *FIELD_READERS)
    platform = platform_of(request)
    lang = language(request)
    errors = errors or FormErrors.none()
    teams = [x for x in recovery_work.list_teams(platform) if x["kind"] == "field"]
    try:
        chosen_day = date.fromisoformat(day) if day else platform.today()
    except ValueError:
        chosen_day = platform.today()
        errors.fields.setdefault("day", i18n.field_error(lang, "day", "format",
                                                         "a date, YYYY-MM-DD"))
        status_code = 422
    plans = []
    for t in teams:
        if team and t["id"] != team:
            continue
        visits = recovery_work.field_plan(platform, t["id"], chosen_day)
        base = (None if t.get("base_latitude") is None
                else (float(t["base_latitude"]), float(t["base_longitude"])))
        plans.append({"team": t, "visits": visits, "map": console_charts.route_map(
            base, [(v["sequence"], float(v["latitude"]), float(v["longitude"]), v["case_id"])
                   for v in visits], i18n.translate(lang, "field.map.title",
                                                    team=t["name"], day=chosen_day.isoformat()),
            f"route-{t['id']}")})
    return render(request, "console_field.html", {
        "user": user, "teams": teams, "plans": plans, "team": team,
        "day": chosen_day.isoformat(), "may_plan": role in FIELD_PLANNERS,
        "team_options": [(t["id"], f"{t['name']} ({t['id']})") for t in teams],
        "errors": errors, "notice": notice}, status_code)


@router.post("/field-plans")
def plan_day(
    request: Request,
    team: Annotated[str, Form(max_length=40)] = "",
    day: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = staff(request, *FIELD_PLANNERS)
    lang = language(request)
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        return _field_page(request, user.role, team, "", one_error(
            "day", "format", "a date, YYYY-MM-DD", lang), status_code=422)
    try:
        recovery_work.plan_field_day(platform_of(request), user.subject, team, chosen)
    except NotFound:
        return _field_page(request, user.role, "", day, one_error(
            "team", "unknown", "choose a field team", lang), status_code=422)
    except (InvalidInput, Refused) as exc:
        errors = errors_of(exc, lang)
        if "team_id" in errors.fields:
            errors.fields["team"] = errors.fields.pop("team_id")
        return _field_page(request, user.role, team, day, errors, status_code=422)
    return redirect(f"/console/field-plans?team={team}&day={chosen.isoformat()}")


# -- partners ------------------------------------------------------------------------------
@router.get("/partners")
def partners_page(request: Request) -> HTMLResponse:
    user = staff(request, *PARTNER_READERS)
    platform = platform_of(request)
    partners = recovery_partners.list_partners(platform)
    with platform.engine.connect() as conn:
        names = console_views.partner_names(conn)
    return render(request, "console_partners.html", {"user": user, "partners": partners,
                                                     "names": names})


NUMBER = re.compile(r"\d{1,6}(\.\d{1,6})?")
ASSESSMENT_FIELDS = ("rating", "complaints", "cases_handled", "recovery_rate", "cost_rate",
                     "last_assessed_on")


def _partner_page(request: Request, partner_id: str, form: dict[str, str] | None = None,
                  errors: FormErrors | None = None, notice: str = "",
                  status_code: int = 200) -> HTMLResponse:
    user = staff(request, *PARTNER_READERS)
    platform = platform_of(request)
    partner = recovery_partners.describe(platform, partner_id)
    with platform.engine.connect() as conn:
        placements = console_views.partner_placements(conn, partner_id)
        name = console_views.partner_names(conn).get(partner_id, "")
    if form is None:
        form = {k: str(partner.get(k) or "") for k in ASSESSMENT_FIELDS}
        form["last_assessed_on"] = platform.today().isoformat()
    return render(request, "console_partner.html", {
        "user": user, "partner": partner, "name": name, "placements": placements,
        "form": form,
        "may_edit": user.role in PARTNER_EDITORS, "errors": errors or FormErrors.none(),
        "notice": notice}, status_code)


@router.get("/partners/{partner_id}")
def partner_page(request: Request, partner_id: str,
                 done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    return _partner_page(request, partner_id, notice="assessed" if done == "assessed" else "")


@router.post("/partners/{partner_id}/assessment")
def add_assessment(
    request: Request, partner_id: str,
    rating: Annotated[str, Form(max_length=10)] = "",
    complaints: Annotated[str, Form(max_length=10)] = "",
    cases_handled: Annotated[str, Form(max_length=10)] = "",
    recovery_rate: Annotated[str, Form(max_length=10)] = "",
    cost_rate: Annotated[str, Form(max_length=10)] = "",
    last_assessed_on: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The yearly assessment: the partner's figures as assessed on a day. The registry keeps
    the latest assessment; the audit trail keeps every one (`recovery.partner.save`)."""
    check_csrf(request, csrf)
    user = staff(request, *PARTNER_EDITORS)
    platform = platform_of(request)
    lang = language(request)
    form = {"rating": rating, "complaints": complaints, "cases_handled": cases_handled,
            "recovery_rate": recovery_rate, "cost_rate": cost_rate,
            "last_assessed_on": last_assessed_on}
    current = recovery_partners.describe(platform, partner_id)
    data = {k: current[k] for k in ("id", "kind", "capabilities", "provinces", "cities",
                                    "capacity", "active")}
    with platform.engine.connect() as conn:
        data["name"] = console_views.partner_names(conn).get(partner_id, "")
    # Counts that are not whole numbers go to the service as -1, so that it names them
    # together with every other wrong field.
    data |= {key: int(form[key].strip()) if form[key].strip().isdigit() else -1
             for key in ("complaints", "cases_handled")}
    # Only plain decimals reach Decimal(): "NaN" or "Infinity" would not compare.
    data |= {key: form[key].strip() if NUMBER.fullmatch(form[key].strip()) else "invalid"
             for key in ("rating", "recovery_rate", "cost_rate")}
    data["last_assessed_on"] = last_assessed_on.strip()
    try:
        recovery_partners.save_partner(platform, user.subject, data)
    except InvalidInput as exc:
        return _partner_page(request, partner_id, form, FormErrors.of(exc, lang),
                             status_code=422)
    return redirect(f"/console/partners/{partner_id}?done=assessed")
