"""What both web front ends share: the templates, sessions in a cookie, CSRF tokens, the
language of the request, and rendering with field-named errors.

- A session is an access token of `infra.auth.TokenService` (the API's tokens: same roles,
  same lifetime) kept in an HttpOnly, SameSite=Lax cookie; staff and borrowers differ only by
  role and by which cookie holds it.
- CSRF: every POST form carries a token that must equal the `tg_csrf` cookie and carry the
  server's HMAC of it (signed double submit), so a page on another site can neither read nor
  forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tailguard.errors import InvalidInput
from tailguard.infra.auth import Role, TokenClaims, TokenError, TokenService
from tailguard.money import yuan
from tailguard.services.platform import Platform
from tailguard.web import i18n

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STAFF_COOKIE = "tg_staff"
BORROWER_COOKIE = "tg_borrower"
CSRF_COOKIE = "tg_csrf"


class CsrfRejected(Exception):
    """A POST without a valid CSRF token."""


class LoginRequired(Exception):
    def __init__(self, where: str) -> None:
        self.where = where


class RoleForbidden(Exception):
    pass


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def tokens_of(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


def language(request: Request) -> str:
    return i18n.language_of(request.cookies.get(i18n.COOKIE))


def _csrf_secret(request: Request) -> bytes:
    return ("csrf\x00" + platform_of(request).settings.token_secret).encode()


def csrf_nonce(request: Request) -> str:
    """The request's CSRF nonce: the cookie's, or a new one the response will set."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = nonce
    return nonce


def csrf_token(request: Request) -> str:
    nonce = csrf_nonce(request)
    mac = hmac.new(_csrf_secret(request), nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{mac}"


def check_csrf(request: Request, token: str | None) -> None:
    nonce = request.cookies.get(CSRF_COOKIE)
    if not token or not nonce or "." not in token:
        raise CsrfRejected()
    given, mac = token.rsplit(".", 1)
    want = hmac.new(_csrf_secret(request), nonce.encode(), hashlib.sha256).hexdigest()[:32]
    if not (hmac.compare_digest(given, nonce) and hmac.compare_digest(mac, want)):
        raise CsrfRejected()


def session(request: Request, cookie: str) -> TokenClaims | None:
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        return tokens_of(request).decode(token)
    except TokenError:
        return None


def staff(request: Request, *roles: Role) -> TokenClaims:
    """The logged-in staff member, or a redirect to the login (or 403 for other roles)."""
    claims = session(request, STAFF_COOKIE)
    if claims is None or claims.role in (Role.BORROWER, Role.AGENCY):
        raise LoginRequired("/console/login")
    if roles and claims.role not in roles:
        raise RoleForbidden()
    return claims


def borrower(request: Request) -> str:
    """The logged-in borrower's party id, or a redirect to the app's login."""
    claims = session(request, BORROWER_COOKIE)
    if claims is None or claims.role is not Role.BORROWER or claims.borrower_id is None:
        raise LoginRequired("/app/login")
    return claims.borrower_id


def set_session(response: Response, cookie: str, token: str, path: str,
                secure: bool) -> None:
    response.set_cookie(cookie, token, httponly=True, samesite="lax", path=path, secure=secure)


def local_time(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@dataclass
class FormErrors:
    """Field-named errors for a form: shown beside each input and in a summary."""

    fields: dict[str, str]
    general: list[str]

    @classmethod
    def none(cls) -> FormErrors:
        return cls({}, [])

    @classmethod
    def of(cls, exc: InvalidInput, lang: str) -> FormErrors:
        return cls({e.field: i18n.field_error(lang, e.field, e.code, e.message)
                    for e in exc.errors}, [])

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def render(request: Request, template: str, context: Mapping[str, Any],
           status_code: int = 200) -> HTMLResponse:
    lang = language(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    def money(fen: int | None) -> str:
        return "—" if fen is None else yuan(int(fen))

    def day(value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return local_time(value, platform_of(request).settings.timezone)
        return value.isoformat()

    base = {"request": request, "t": t, "lang": lang, "csrf": csrf_token(request),
            "money": money, "day": day, "errors": FormErrors.none(),
            "path": request.url.path}
    response = TEMPLATES.TemplateResponse(request, template, base | dict(context),
                                          status_code=status_code)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
