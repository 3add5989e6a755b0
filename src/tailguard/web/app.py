"""The web application: mounted at `/` by `api.app.create_app`, beside the REST API under
`/api/v1`. Its own FastAPI app, so its HTML error pages never mix with the API's JSON errors
and its routes stay out of the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tailguard.errors import NotFound
from tailguard.infra.auth import LoginRateLimiter, TokenService
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.infra.otp_sms import CodeSender, SandboxCodeSender
from tailguard.infra.payment_gateway import PaymentGateway, SandboxGateway
from tailguard.services.platform import Platform
from tailguard.web import i18n
from tailguard.web.borrower import router as borrower_router
from tailguard.web.common import (
    CSRF_COOKIE,
    HERE,
    CsrfRejected,
    LoginRequired,
    RoleForbidden,
    redirect,
    render,
)
from tailguard.web.console import router as console_router
from tailguard.web.console_collections import router as console_collections_router
from tailguard.web.console_review import router as console_review_router
from tailguard.web.console_risk import router as console_risk_router

SECURITY_HEADERS = {
    # Everything is served from here: no CDN, no inline script, no framing.
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                "style-src 'self'; script-src 'self'; object-src 'none'; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_web_app(
    platform: Platform,
    tokens: TokenService,
    *,
    limiter: LoginRateLimiter | None = None,
    sms: CodeSender | None = None,
    gateway: PaymentGateway | None = None,
    store: DocumentStore | None = None,
) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.platform = platform
    app.state.tokens = tokens
    app.state.limiter = limiter or LoginRateLimiter(platform.clock)
    app.state.sms = sms or SandboxCodeSender()
    app.state.gateway = gateway or SandboxGateway(platform.settings.gateway_secret)
    app.state.store = store or document_store_from_settings(platform.settings)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(console_router)
    for screens in (console_review_router, console_collections_router, console_risk_router):
        app.include_router(screens)
    app.include_router(borrower_router)

    @app.middleware("http")
    async def headers_and_csrf_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        nonce = getattr(request.state, "new_csrf", None)
        if nonce and not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict",
                                path="/", secure=request.url.scheme == "https")
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return redirect(exc.where)

    @app.exception_handler(RoleForbidden)
    async def forbidden(request: Request, exc: RoleForbidden) -> HTMLResponse:
        return render(request, "error.html", {"message_key": "error.403"}, 403)

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, exc: CsrfRejected) -> HTMLResponse:
        return render(request, "error.html", {"message_key": "error.csrf"}, 403)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> HTMLResponse:
        return render(request, "error.html", {"message_key": "error.404"}, 404)

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Exception) -> HTMLResponse:
        return render(request, "error.html", {"message_key": "error.404"}, 404)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return redirect("/app")

    @app.get("/lang/{code}", include_in_schema=False)
    def switch_language(code: str, next: str = "/") -> RedirectResponse:
        """The language switch: a link, so it works without JavaScript; the choice is a
        cookie. `next` must be a path on this site (no open redirect)."""
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        if urlsplit(target).netloc:
            target = "/"
        response = redirect(target)
        if code in i18n.LANGUAGES:
            response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="lax",
                                path="/")
        return response

    @app.get("/app/manifest.json", include_in_schema=False)
    def manifest() -> FileResponse:
        return FileResponse(HERE / "static" / "manifest.json",
                            media_type="application/manifest+json")

    @app.get("/app/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        # Served under /app so its scope is the borrower app.
        return FileResponse(HERE / "static" / "sw.js", media_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})

    return app
