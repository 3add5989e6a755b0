"""The FastAPI application: routes, the login endpoint, and errors that name the field.

Every error a caller can cause becomes a 4xx with `{"detail": [{"field", "code", "message"}]}`:
422 for bad input (pydantic's own validation included, re-worded to name the field), 409 for a
business refusal or a reused idempotency key, 404 for a loan that does not exist or is not the
caller's, 401/403 for authentication and roles. A 5xx means a bug.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from tailguard.api.deps import PlatformDep
from tailguard.api.routes_contracts import router as contracts_router
from tailguard.api.routes_engagement import router as engagement_router
from tailguard.api.routes_loans import router as loans_router
from tailguard.api.routes_monitoring import router as monitoring_router
from tailguard.api.routes_offers import router as offers_router
from tailguard.api.routes_origination import router as origination_router
from tailguard.api.routes_recovery import router as recovery_router
from tailguard.errors import Conflict, InvalidInput, NotFound, Refused
from tailguard.infra.auth import LoginRateLimiter, LoginThrottled, TokenService
from tailguard.infra.users import authenticate
from tailguard.services.payment_batcher import PaymentBatcher
from tailguard.services.platform import Platform
from tailguard.web import create_web_app

API_VERSION = "v1"


def _problem(status_code: int, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": items})


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def create_app(platform: Platform, tokens: TokenService | None = None) -> FastAPI:
    batcher = PaymentBatcher(platform)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()  # the posting thread finishes its batch before the process ends

    app = FastAPI(
        lifespan=lifespan,
        title="tailguard",
        version="0.1.0",
        description="Servicing and recovery for balloon auto loans. Amounts are yuan strings.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.platform = platform
    app.state.tokens = tokens or TokenService.from_settings(platform.settings, platform.clock)
    app.state.limiter = LoginRateLimiter(platform.clock)
    app.state.payments = batcher
    app.include_router(loans_router)
    app.include_router(contracts_router)
    app.include_router(engagement_router)
    app.include_router(monitoring_router)
    app.include_router(offers_router)
    app.include_router(origination_router)
    app.include_router(recovery_router)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(422, [
            {"field": _field_of(e.get("loc", ())), "code": e.get("type", "invalid"),
             "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ])

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _problem(422, [{"field": e.field, "code": e.code, "message": e.message}
                              for e in exc.errors])

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return _problem(409, [{"field": None, "code": exc.code, "message": exc.message}])

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _problem(409, [{"field": "Idempotency-Key", "code": "conflict",
                               "message": str(exc)}])

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _problem(404, [{"field": None, "code": "not_found", "message": str(exc)}])

    @app.post("/api/v1/auth/token", tags=["auth"])
    def login(
        request: Request,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
        platform: PlatformDep,
    ) -> dict[str, Any]:
        """OAuth2 password flow: a bearer token for a staff user (or a borrower's app)."""
        limiter: LoginRateLimiter = request.app.state.limiter
        address = request.client.host if request.client else None
        try:
            limiter.check(form.username, address)
        except LoginThrottled as exc:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from exc
        with platform.engine.begin() as conn:
            user = authenticate(conn, form.username, form.password)
        if user is None:
            limiter.record_failure(form.username, address)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                                headers={"WWW-Authenticate": "Bearer"})
        limiter.record_success(form.username, address)
        token = request.app.state.tokens.issue(
            user.username, user.role, agency_id=user.agency_id,
            borrower_id=user.borrower_id,
        )
        return {"access_token": token, "token_type": "bearer"}

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # The staff console (/console) and the borrower app (/app): server-rendered HTML, mounted
    # last so every /api/v1 route above answers first (docs/web.md).
    app.mount("/", create_web_app(platform, app.state.tokens, limiter=app.state.limiter))

    return app
