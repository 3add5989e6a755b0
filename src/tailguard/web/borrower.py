"""The borrower app (mobile first, installable): phone + SMS code login, my loans, a loan with
its schedule, the balloon countdown and options, paying through the payment gateway, uploads,
the contract and its receipt, messages. A loan that is not the borrower's answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.auth import Role
from tailguard.infra.otp_sms import CodeSender, SandboxCodeSender
from tailguard.infra.payment_gateway import SIGNATURE_HEADER, PaymentGateway, SandboxGateway
from tailguard.money import yuan
from tailguard.services import (
    borrower_login,
    borrower_offers,
    borrower_portal,
    contract_documents,
    transparency,
)
from tailguard.web import i18n
from tailguard.web.common import (
    BORROWER_COOKIE,
    FormErrors,
    borrower,
    check_csrf,
    language,
    platform_of,
    redirect,
    render,
    session,
    set_session,
    tokens_of,
)

router = APIRouter(prefix="/app", include_in_schema=False)
CALLBACK_MAX_BYTES = 16 * 1024


def _sms(request: Request) -> CodeSender:
    sender: CodeSender = request.app.state.sms
    return sender


def _gateway(request: Request) -> PaymentGateway:
    gateway: PaymentGateway = request.app.state.gateway
    return gateway


def _dev_code(request: Request, phone: str) -> str | None:
    """In development and tests only, the code the SMS sandbox holds for this phone."""
    sender = _sms(request)
    if platform_of(request).settings.production or not isinstance(sender, SandboxCodeSender):
        return None
    text = sender.last_text(phone)
    if text is None:
        return None
    digits = [word for word in text.replace("，", " ").split() if word.isdigit()]
    return digits[0] if digits else None


@router.get("")
def app_home(request: Request) -> RedirectResponse:
    claims = session(request, BORROWER_COOKIE)
    if claims is None or claims.role is not Role.BORROWER:
        return redirect("/app/login")
    return redirect("/app/loans")


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return render(request, "app_login.html", {"phone": "", "sent": None, "dev_code": None})


@router.post("/login/code")
def send_code(request: Request, phone: Annotated[str, Form(max_length=40)] = "",
              csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(request, csrf)
    lang = language(request)
    try:
        issued = borrower_login.request_code(platform_of(request), phone, _sms(request))
    except InvalidInput as bad:
        return render(request, "app_login.html", {
            "phone": phone, "sent": None, "dev_code": None,
            "errors": FormErrors.of(bad, lang)}, 422)
    except Refused as refused:
        return render(request, "app_login.html", {
            "phone": phone, "sent": None, "dev_code": None,
            "errors": FormErrors({}, [i18n.refusal(lang, refused.code, refused.message)])},
            429)
    return render(request, "app_login.html", {
        "phone": issued.phone, "sent": issued, "dev_code": _dev_code(request, issued.phone)})


@router.post("/login")
def login(request: Request, phone: Annotated[str, Form(max_length=40)] = "",
          code: Annotated[str, Form(max_length=20)] = "",
          csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    lang = language(request)
    platform = platform_of(request)
    try:
        done = borrower_login.verify_code(platform, phone, code)
    except InvalidInput as bad:
        return render(request, "app_login.html", {
            "phone": phone, "sent": True, "dev_code": None,
            "errors": FormErrors.of(bad, lang)}, 422)
    except Refused as refused:
        return render(request, "app_login.html", {
            "phone": phone, "sent": None, "dev_code": None,
            "errors": FormErrors({}, [i18n.refusal(lang, refused.code, refused.message)])},
            429)
    token = tokens_of(request).issue(f"borrower:{done.party_id}", Role.BORROWER,
                                     borrower_id=done.party_id)
    response = redirect("/app/loans")
    set_session(response, BORROWER_COOKIE, token, "/app", request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    response = redirect("/app/login")
    response.delete_cookie(BORROWER_COOKIE, path="/app")
    return response


@router.get("/loans")
def my_loans(request: Request) -> HTMLResponse:
    party = borrower(request)
    loans = borrower_portal.owned_loans(platform_of(request), party)
    return render(request, "app_loans.html", {"loans": loans,
                                              "today": platform_of(request).today()})


def _loan_context(request: Request, party: str, loan_id: str) -> dict[str, object]:
    platform = platform_of(request)
    overview = borrower_portal.loan_overview(platform, party, loan_id)
    quote, options = borrower_portal.balloon_options(platform, party, loan_id)
    return {
        "o": overview, "quote": quote, "options": {o.option: o for o in options},
        "requests": borrower_portal.pending_requests(platform, party, loan_id),
        "uploads": borrower_portal.uploads_of(platform, loan_id),
        "documents": contract_documents.documents_of(platform, loan_id),
        "kinds": borrower_portal.UPLOAD_KINDS, "loan_id": loan_id,
        "offers": borrower_offers.offers_for(platform, party, loan_id),
        "awards": borrower_offers.awards_for(platform, party, loan_id),
        "chances": borrower_offers.chances_for(platform, party, loan_id),
        "amount": yuan(overview.suggested_payment_fen) if overview.suggested_payment_fen
        else "", "months": "", "notice": None, "notice_error": False,
    }


@router.get("/loans/{loan_id}")
def loan(request: Request, loan_id: str,
         paid: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    party = borrower(request)
    context = _loan_context(request, party, loan_id)
    if paid:
        order = borrower_portal.own_order(platform_of(request), party, paid)
        lang = language(request)
        context["notice"] = (i18n.translate(lang, "app.payment.done",
                                            amount=yuan(order.amount_fen))
                             if order.status == "paid"
                             else i18n.translate(lang, "app.payment.failed"))
        context["notice_error"] = order.status != "paid"
    return render(request, "app_loan.html", context)


@router.post("/loans/{loan_id}/options")
def choose_option(request: Request, loan_id: str,
                  option: Annotated[str, Form(max_length=20)] = "",
                  months: Annotated[str, Form(max_length=10)] = "",
                  csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(request, csrf)
    party = borrower(request)
    lang = language(request)
    platform = platform_of(request)
    try:
        approval = borrower_portal.request_option(platform, party, loan_id, option, months)
    except InvalidInput as bad:
        context = _loan_context(request, party, loan_id)
        context.update(months=months, errors=FormErrors.of(bad, lang), chosen=option)
        return render(request, "app_loan.html", context, 422)
    context = _loan_context(request, party, loan_id)
    context["notice"] = i18n.translate(lang, "app.option.requested", id=approval.approval_id)
    return render(request, "app_loan.html", context)


@router.post("/loans/{loan_id}/offers/{offer_id}/{decision}")
def decide_offer(request: Request, loan_id: str, offer_id: str, decision: str,
                 csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """Accept or decline an offer sent for the borrower's loan (services/borrower_offers.py:
    another borrower's offer, or one of another loan, is 404)."""
    check_csrf(request, csrf)
    if decision not in ("accept", "decline"):
        raise NotFound(decision)
    party = borrower(request)
    lang = language(request)
    platform = platform_of(request)
    act = borrower_offers.accept if decision == "accept" else borrower_offers.decline
    try:
        offer = act(platform, party, loan_id, offer_id)
    except InvalidInput as bad:
        message = "; ".join(i18n.field_error(lang, e.field, e.code, e.message)
                            for e in bad.errors)
        context = _loan_context(request, party, loan_id)
        context.update(notice=message, notice_error=True)
        return render(request, "app_loan.html", context, 422)
    except Refused as refused:
        context = _loan_context(request, party, loan_id)
        context.update(notice=i18n.refusal(lang, refused.code, refused.message),
                       notice_error=True)
        return render(request, "app_loan.html", context, 409)
    context = _loan_context(request, party, loan_id)
    context["notice"] = i18n.translate(lang, f"app.offer.outcome.{offer['status']}",
                                       id=offer["approval_id"] or "")
    return render(request, "app_loan.html", context)


@router.post("/loans/{loan_id}/pay")
def pay(request: Request, loan_id: str, amount: Annotated[str, Form(max_length=30)] = "",
        purpose: Annotated[str, Form(max_length=20)] = "instalment",
        csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    party = borrower(request)
    try:
        _, url = borrower_portal.start_payment(platform_of(request), party, loan_id, amount,
                                               purpose, _gateway(request))
    except InvalidInput as bad:
        context = _loan_context(request, party, loan_id)
        context.update(amount=amount, errors=FormErrors.of(bad, language(request)))
        return render(request, "app_loan.html", context, 422)
    return redirect(url)


@router.get("/pay/sandbox/{order_id}")
def sandbox_cashier(request: Request, order_id: str) -> HTMLResponse:
    """The sandbox gateway's cashier page (a real gateway serves its own)."""
    if not isinstance(_gateway(request), SandboxGateway):
        raise NotFound(order_id)
    order = borrower_portal.pending_order(platform_of(request), order_id)
    return render(request, "sandbox_cashier.html", {"order": order})


@router.post("/pay/sandbox/{order_id}")
def sandbox_confirm(request: Request, order_id: str,
                    outcome: Annotated[str, Form(max_length=10)] = "paid",
                    csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    """The sandbox completes the order and delivers its signed callback to the same handler
    `POST /app/pay/callback` runs (in process: the sandbox lives in this server)."""
    check_csrf(request, csrf)
    gateway = _gateway(request)
    if not isinstance(gateway, SandboxGateway):
        raise NotFound(order_id)
    platform = platform_of(request)
    order = borrower_portal.pending_order(platform, order_id)
    body, signature = gateway.complete(order.order_id, order.amount_fen, outcome == "paid")
    done = borrower_portal.complete_payment(platform, gateway, body, signature)
    return redirect(f"/app/loans/{done.loan_id}?paid={done.order_id}")


@router.post("/pay/callback")
async def gateway_callback(request: Request) -> JSONResponse:
    """The payment gateway's server-to-server notification: the body is believed only when
    its HMAC signature verifies; the money is then posted once per transaction id."""
    from starlette.concurrency import run_in_threadpool

    body = await request.body()
    if len(body) > CALLBACK_MAX_BYTES:
        return JSONResponse({"status": "refused", "reason": "too large"}, 413)
    signature = request.headers.get(SIGNATURE_HEADER)
    try:
        done = await run_in_threadpool(borrower_portal.complete_payment, platform_of(request),
                                       _gateway(request), body, signature)
    except borrower_portal.BadSignature:
        return JSONResponse({"status": "refused", "reason": "bad signature"}, 401)
    except InvalidInput as bad:
        return JSONResponse({"status": "refused", "reason": str(bad)}, 422)
    except NotFound:
        return JSONResponse({"status": "refused", "reason": "unknown order"}, 404)
    except Refused as refused:
        return JSONResponse({"status": "refused", "reason": refused.code}, 409)
    return JSONResponse({"status": done.status, "order_id": done.order_id,
                         "payment_id": done.payment_id})


@router.post("/loans/{loan_id}/documents")
def upload(request: Request, loan_id: str, kind: Annotated[str, Form(max_length=24)] = "",
           file: Annotated[UploadFile | None, File()] = None,
           csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(request, csrf)
    party = borrower(request)
    lang = language(request)
    platform = platform_of(request)
    data = b""
    name, content_type = "", ""
    if file is not None:
        data = file.file.read(borrower_portal.UPLOAD_MAX_BYTES + 1)
        name, content_type = file.filename or "", file.content_type or ""
    try:
        stored = borrower_portal.upload_document(platform, party, loan_id, kind, name,
                                                 content_type, data, request.app.state.store)
    except InvalidInput as bad:
        context = _loan_context(request, party, loan_id)
        context.update(errors=FormErrors.of(bad, lang), kind=kind)
        return render(request, "app_loan.html", context, 422)
    context = _loan_context(request, party, loan_id)
    context["notice"] = i18n.translate(lang, "app.upload.done", name=stored.filename)
    return render(request, "app_loan.html", context)


@router.get("/loans/{loan_id}/contract.pdf")
def contract_pdf(request: Request, loan_id: str) -> Response:
    party = borrower(request)
    platform = platform_of(request)
    borrower_portal.require_own_loan(platform, party, loan_id)
    issued, data = contract_documents.document_bytes(platform, f"borrower:{party}", loan_id)
    filename = issued.document_id.replace("/", "-") + ".pdf"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/loans/{loan_id}/contract.tlog-proof")
def contract_receipt(request: Request, loan_id: str) -> Response:
    party = borrower(request)
    platform = platform_of(request)
    borrower_portal.require_own_loan(platform, party, loan_id)
    proof = transparency.receipt_for_contract(platform, loan_id)
    filename = proof.document_id.replace("/", "-") + ".tlog-proof"
    return Response(proof.receipt, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/messages")
def messages(request: Request) -> HTMLResponse:
    party = borrower(request)
    return render(request, "app_messages.html", {
        "messages": borrower_portal.messages_of(platform_of(request), party)})
