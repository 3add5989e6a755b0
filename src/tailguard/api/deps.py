"""Request dependencies: the platform, the caller, and which roles an endpoint admits.

Every endpoint declares its roles with `allow(...)`; the declaration is also recorded in
`ENDPOINT_ROLES`, which the role-matrix test walks so no endpoint can forget to say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from tailguard.infra.auth import Role, TokenClaims, TokenError, TokenService
from tailguard.services.platform import Platform

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

STAFF_READ = (
    Role.ADMINISTRATOR, Role.CREDIT_OFFICER, Role.SERVICING, Role.RISK, Role.COLLECTOR,
    Role.TEAM_LEAD, Role.COMPLIANCE,
)


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


PlatformDep = Annotated[Platform, Depends(get_platform)]


def current_user(
    tokens: Annotated[TokenService, Depends(get_tokens)],
    token: Annotated[str | None, Depends(oauth2)],
) -> TokenClaims:
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return tokens.decode(token)
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"token {exc.reason}",
                            headers={"WWW-Authenticate": "Bearer"}) from exc


CurrentUser = Annotated[TokenClaims, Depends(current_user)]


def allow(*roles: Role) -> Callable[[TokenClaims], TokenClaims]:
    """A dependency that admits only `roles` (403 for any other authenticated caller)."""
    admitted = frozenset(roles)

    def check(user: CurrentUser) -> TokenClaims:
        if user.role not in admitted:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"the {user.role.value} role may not do this")
        return user

    check.admitted_roles = admitted  # type: ignore[attr-defined]
    return check


def borrower_may_see(user: TokenClaims, borrower_id: str) -> bool:
    return user.role is not Role.BORROWER or user.borrower_id == borrower_id
