"""Application review: the list of applications and one application with its decisions (the
outcome, the reasons in the reader's language, the conditions), what the engine read (the
score with the model's top reasons, each party's third-party answers), and the override,
which a credit officer proposes and a second person approves (maker-checker in
`services/origination.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tailguard.errors import InvalidInput, Refused
from tailguard.services import console_views, origination
from tailguard.web import i18n
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
    OVERRIDE_CHECKERS,
    OVERRIDE_MAKERS,
    REVIEWERS,
    errors_of,
)

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE = 50
OUTCOMES = ("approve", "refer", "decline")
CONDITION_CODES = ("MIN_DOWN_PAYMENT", "MAX_BALLOON_SHARE", "DOCUMENTS")


@router.get("/applications")
def applications_page(
    request: Request,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    user = staff(request, *REVIEWERS)
    if status not in console_views.APPLICATION_STATUSES:
        status = ""
    with platform_of(request).engine.connect() as conn:
        total, rows = console_views.list_applications(conn, status, PAGE, (page - 1) * PAGE)
    return render(request, "console_applications.html", {
        "user": user, "rows": rows, "total": total, "status": status, "page": page,
        "pages": max(1, -(-total // PAGE)), "statuses": console_views.APPLICATION_STATUSES})


def _application_page(request: Request, application_id: str,
                      form: dict[str, Any] | None = None,
                      errors: FormErrors | None = None, notice: str = "",
                      status_code: int = 200) -> HTMLResponse:
    user = staff(request, *REVIEWERS)
    platform = platform_of(request)
    lang = language(request)
    application = origination.get_application(platform, application_id)
    with platform.engine.connect() as conn:
        basis = console_views.decision_basis(conn, application_id)
    override = application["override"]
    pending = override is not None and override["status"] == "pending"
    decisions = application["decisions"]
    return render(request, "console_application.html", {
        "user": user, "app": application, "basis": basis,
        "latest": decisions[-1] if decisions else None,
        "may_request": (user.role in OVERRIDE_MAKERS and bool(decisions) and not pending),
        "may_decide": (user.role in OVERRIDE_CHECKERS and pending
                       and override["maker"] != user.subject),
        "pending": pending,
        "outcomes_options": [(o, i18n.translate(lang, "outcome." + o)) for o in OUTCOMES],
        "condition_options": [(c, i18n.translate(lang, "cond." + c)) for c in CONDITION_CODES],
        "form": form or {"outcome": "", "reason": "", "condition_code": "",
                         "condition_value": ""},
        "errors": errors or FormErrors.none(), "notice": notice,
    }, status_code)


@router.get("/applications/{application_id}")
def application_page(request: Request, application_id: str,
                     done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    notice = {"requested": "review.override.requested", "approved": "review.override.approved",
              "rejected": "review.override.rejected"}.get(done, "")
    return _application_page(request, application_id, notice=notice)


@router.post("/applications/{application_id}/override")
def request_override(
    request: Request, application_id: str,
    outcome: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    condition_code: Annotated[str, Form(max_length=40)] = "",
    condition_value: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = staff(request, *OVERRIDE_MAKERS)
    form = {"outcome": outcome, "reason": reason, "condition_code": condition_code,
            "condition_value": condition_value}
    conditions = ([{"code": condition_code, "value": condition_value.strip()}]
                  if condition_code else [])
    try:
        origination.request_override(platform_of(request), user.subject, application_id,
                                     outcome, reason, conditions)
    except (InvalidInput, Refused) as exc:
        errors = errors_of(exc, language(request))
        # The service names the first condition `conditions[0].value`; the form has one row.
        for key in list(errors.fields):
            if key.startswith("conditions[0]."):
                errors.fields["condition_" + key.rsplit(".", 1)[1]] = errors.fields.pop(key)
            elif key == "conditions":
                errors.fields["condition_code"] = errors.fields.pop(key)
        return _application_page(request, application_id, form, errors, status_code=422)
    return redirect(f"/console/applications/{application_id}?done=requested")


@router.post("/applications/{application_id}/override/decision")
def decide_override(
    request: Request, application_id: str,
    decision: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = staff(request, *OVERRIDE_CHECKERS)
    if decision not in ("approve", "reject"):
        errors = FormErrors({"decision": "approve / reject"}, [])
        return _application_page(request, application_id, errors=errors, status_code=422)
    try:
        origination.decide_override(platform_of(request), user.subject, application_id,
                                    decision == "approve")
    except Refused as exc:
        return _application_page(request, application_id,
                                 errors=errors_of(exc, language(request)), status_code=422)
    done = "approved" if decision == "approve" else "rejected"
    return redirect(f"/console/applications/{application_id}?done={done}")
