"""The staff console: login, the morning dashboard, loan search with an Excel export, and the
loan page. Every page names the roles it admits (`STAFF_READ` unless said otherwise)."""

from __future__ import annotations

import io
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tailguard.errors import FieldError, InvalidInput, NotFound
from tailguard.infra.auth import LoginRateLimiter, LoginThrottled, Role
from tailguard.infra.db import ledger_repository
from tailguard.infra.users import authenticate
from tailguard.money import yuan
from tailguard.services import (
    console_views,
    contract_documents,
    dashboard,
    servicing,
    transparency,
)
from tailguard.services.borrower_portal import uploads_of
from tailguard.services.documents import ACCOUNT_NAMES, loan_document
from tailguard.web import charts
from tailguard.web.common import (
    STAFF_COOKIE,
    FormErrors,
    check_csrf,
    language,
    platform_of,
    redirect,
    render,
    set_session,
    staff,
    tokens_of,
)

router = APIRouter(prefix="/console", include_in_schema=False)

STAFF_READ = (Role.ADMINISTRATOR, Role.CREDIT_OFFICER, Role.SERVICING, Role.RISK,
              Role.COLLECTOR, Role.TEAM_LEAD, Role.COMPLIANCE)
LEDGER_READERS = (Role.SERVICING, Role.COMPLIANCE, Role.RISK, Role.ADMINISTRATOR)
DOCUMENT_READERS = (Role.CREDIT_OFFICER, Role.COMPLIANCE)
STATUSES = ("active", "closed", "written-off")
PAGE = 50


@router.get("")
def console_home(request: Request) -> RedirectResponse:
    staff(request, *STAFF_READ)
    return redirect("/console/dashboard")


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return render(request, "console_login.html", {"username": ""})


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    lang = language(request)
    limiter: LoginRateLimiter = request.app.state.limiter
    address = request.client.host if request.client else None
    platform = platform_of(request)
    errors = FormErrors.none()
    if not username.strip():
        errors.fields["username"] = "请输入用户名" if lang == "zh" else "enter your username"
    if not password:
        errors.fields["password"] = "请输入密码" if lang == "zh" else "enter your password"
    if not errors:
        try:
            limiter.check(username, address)
        except LoginThrottled:
            errors.general.append("login.throttled")
        else:
            with platform.engine.begin() as conn:
                user = authenticate(conn, username, password)
            if user is None or user.role in (Role.BORROWER, Role.AGENCY):
                limiter.record_failure(username, address)
                errors.general.append("login.failed")
            else:
                limiter.record_success(username, address)
                token = tokens_of(request).issue(user.username, user.role)
                response = redirect("/console/dashboard")
                set_session(response, STAFF_COOKIE, token, "/console",
                            request.url.scheme == "https")
                return response
    return render(request, "console_login.html", {"username": username, "errors": errors},
                  422)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    response = redirect("/console/login")
    response.delete_cookie(STAFF_COOKIE, path="/console")
    return response


@router.get("/dashboard")
def dashboard_page(request: Request) -> HTMLResponse:
    user = staff(request, *STAFF_READ)
    platform = platform_of(request)
    lang = language(request)
    with platform.engine.connect() as conn:
        board = dashboard.dashboard(conn, platform.today())
        open_alerts = console_views.open_alerts(conn)
    t_within = {"zh": "{d} 天内", "en": "≤ {d} days"}[lang]
    t_loans = {"zh": "{n} 笔 · ¥{a}", "en": "{n} · ¥{a}"}[lang]
    bars = charts.bar_chart(
        [(t_within.format(d=d), n, t_loans.format(n=n, a=yuan(a)))
         for d, n, a in board.approaching],
        "balloons approaching" if lang == "en" else "即将到期的尾款", "approaching")
    bucket_bars = charts.bar_chart(
        [(b, board.by_bucket.get(b, (0, 0))[0], str(board.by_bucket.get(b, (0, 0))[0]))
         for b in dashboard.BUCKETS], "loans by bucket" if lang == "en" else "逾期阶段分布",
        "buckets")
    figures = {p.province_code: (p.loans, p.dpd30_ratio) for p in board.provinces}
    title = "Active loans by province" if lang == "en" else "各省在贷笔数"
    row_totals = {b: sum(n for (f, _), n in board.roll.items() if f == b)
                  for b in dashboard.BUCKETS}
    return render(request, "dashboard.html", {
        "user": user, "board": board, "bars": bars, "bucket_bars": bucket_bars,
        "map": charts.province_map(figures, lang, title), "buckets": dashboard.BUCKETS,
        "row_totals": row_totals, "heat": charts.heat, "percent": charts.percent,
        "province_name": lambda code: charts.province_name(code, lang),
        "clearance_days": dashboard.CLEARANCE_DAYS, "open_alerts": open_alerts,
    })


def _search(loan_id: str, region: str, bucket: str, status: str, page: int
             ) -> tuple[dashboard.Search, list[FieldError]]:
    errors: list[FieldError] = []
    loan_id = loan_id.strip()[:40]
    region = region.strip()
    if region and not re.fullmatch(r"\d{1,6}", region):
        errors.append(FieldError("region", "format", "1 to 6 digits of a GB/T 2260 code"))
        region = ""
    if bucket and bucket not in dashboard.BUCKETS:
        errors.append(FieldError("bucket", "unknown", f"one of {', '.join(dashboard.BUCKETS)}"))
        bucket = ""
    if status and status not in STATUSES:
        errors.append(FieldError("status", "unknown", f"one of {', '.join(STATUSES)}"))
        status = ""
    flt = dashboard.Search(loan_id, region, bucket, status, PAGE, max(page - 1, 0) * PAGE)
    return flt, errors


@router.get("/loans")
def loans_page(
    request: Request,
    loan_id: Annotated[str, Query(alias="id", max_length=60)] = "",
    region: Annotated[str, Query(max_length=10)] = "",
    bucket: Annotated[str, Query(max_length=8)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    user = staff(request, *STAFF_READ)
    flt, problems = _search(loan_id, region, bucket, status, page)
    errors = (FormErrors.of(InvalidInput(problems), language(request)) if problems
              else FormErrors.none())
    with platform_of(request).engine.connect() as conn:
        total, rows = dashboard.search_loans(conn, flt)
    query = {"id": loan_id, "region": region, "bucket": bucket, "status": status}
    return render(request, "loans.html", {
        "user": user, "rows": rows, "total": total, "page": page, "pages": max(
            1, -(-total // PAGE)), "query": query, "buckets": dashboard.BUCKETS,
        "statuses": STATUSES, "errors": errors,
        "export_query": urlencode({k: v for k, v in query.items() if v}),
    }, 422 if errors else 200)


@router.get("/loans.xlsx")
def export_loans(
    request: Request,
    loan_id: Annotated[str, Query(alias="id", max_length=60)] = "",
    region: Annotated[str, Query(max_length=10)] = "",
    bucket: Annotated[str, Query(max_length=8)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The loan list as an Excel workbook (amounts as numbers in yuan, no personal data)."""
    from openpyxl import Workbook

    staff(request, *STAFF_READ)
    flt, _ = _search(loan_id, region, bucket, status, 1)
    platform = platform_of(request)
    with platform.engine.connect() as conn:
        rows = dashboard.export_rows(conn, flt)
    lang = language(request)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("loans" if lang == "en" else "贷款")
    heads = {
        "zh": ["贷款编号", "产品", "状态", "地区代码", "放款日", "贷款本金", "年利率", "期数",
               "剩余本金", "逾期天数", "逾期阶段", "下次还款日", "尾款到期日", "尾款"],
        "en": ["loan id", "product", "status", "region", "disbursed", "principal",
               "annual rate", "term", "outstanding", "dpd", "bucket", "next due",
               "balloon due", "balloon"],
    }[lang]
    sheet.append(heads)
    for r in rows:
        sheet.append([
            r["id"], r["product_code"], r["status"], r["region_code"], r["disbursement_date"],
            _yuan_number(r["principal_fen"]), str(r["annual_rate"]), r["term_months"],
            _yuan_number(r["principal_outstanding_fen"]), r["dpd"], r["bucket"],
            r["next_due_date"], r["balloon_due_date"], _yuan_number(r["balloon_fen"]),
        ])
    out = io.BytesIO()
    book.save(out)
    with platform.uow("console") as uow:
        uow.audit("loans.export", "loan", None, {"rows": len(rows), "filter": {
            "id": flt.loan_id, "region": flt.region, "bucket": flt.bucket,
            "status": flt.status}})
        uow.commit()
    filename = f"loans-{platform.today().isoformat()}.xlsx"
    return Response(out.getvalue(), media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _yuan_number(fen: int | None) -> float | None:
    # A spreadsheet cell holds a number; the exact text is yuan(fen), both shown to 2 places.
    return None if fen is None else float(yuan(int(fen)))


@router.get("/loans/{loan_id}")
def loan_page(request: Request, loan_id: str) -> HTMLResponse:
    user = staff(request, *STAFF_READ)
    platform = platform_of(request)
    with platform.engine.connect() as conn:
        if not dashboard.loan_exists(conn, loan_id):
            raise NotFound(loan_id)
        facts = dashboard.loan_facts(conn, loan_id)
        events = dashboard.loan_outbox_events(conn, loan_id)
        place = dashboard.loan_borrower_region(conn, loan_id)
        ledger: list[dict[str, Any]] = []
        balances: dict[str, int] = {}
        if user.role in LEDGER_READERS:
            ledger = [dict(r) for r in ledger_repository.entries_for_loan(conn, loan_id)]
            balances = ledger_repository.loan_balances(conn, loan_id)
    document = loan_document(platform, loan_id)
    account = servicing.load_account(platform, loan_id)
    documents = contract_documents.documents_of(platform, loan_id)
    return render(request, "loan.html", {
        "user": user, "loan": document, "account": account, "facts": facts, "events": events,
        "ledger": ledger, "balances": balances, "account_names": ACCOUNT_NAMES,
        "documents": documents, "may_read_pdf": user.role in DOCUMENT_READERS,
        "may_read_ledger": user.role in LEDGER_READERS, "place": place,
        "uploads": uploads_of(platform, loan_id), "loan_id": loan_id,
        "today": platform.today(),
    })


@router.get("/loans/{loan_id}/contract.pdf")
def contract_pdf(request: Request, loan_id: str,
                 version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> Response:
    user = staff(request, *DOCUMENT_READERS)
    issued, data = contract_documents.document_bytes(platform_of(request), user.subject,
                                                     loan_id, version)
    filename = issued.document_id.replace("/", "-") + ".pdf"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/loans/{loan_id}/contract.tlog-proof")
def contract_receipt(request: Request, loan_id: str,
                     version: Annotated[int | None, Query(ge=1, le=10_000)] = None
                     ) -> Response:
    staff(request, *STAFF_READ)
    proof = transparency.receipt_for_contract(platform_of(request), loan_id, version)
    filename = proof.document_id.replace("/", "-") + ".tlog-proof"
    return Response(proof.receipt, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})
