"""Authentication: roles, Argon2 password hashes, signed access tokens and login throttling.

- Passwords are hashed with Argon2id (argon2-cffi): memory-hard, so a stolen `users` table is
  slow to crack on GPUs. `needs_rehash` lets a login upgrade a hash made with weaker
  parameters, so raising the cost later needs no password reset.
- Access tokens are JWTs signed with HS256 and `Settings.token_secret`. They are short-lived
  (`Settings.token_minutes`) because a stateless token cannot be revoked before it expires.
  Expiry is checked against the injected clock, not the machine clock, so tests and the
  simulator can move time; the algorithm is pinned, so a token claiming `alg: none` or a
  different algorithm is refused.
- Login failures are limited per username and per client address: the username limit stops
  guessing one account's password from many addresses, the address limit stops one address
  spraying a common password over many accounts.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tailguard.infra.clock import Clock
from tailguard.infra.settings import Settings


class Role(StrEnum):
    """The roles of DESIGN.md ("Who uses it"); values are what tokens and the users table hold."""

    ADMINISTRATOR = "administrator"
    CREDIT_OFFICER = "credit-officer"
    SERVICING = "servicing"
    RISK = "risk"
    COLLECTOR = "collector"
    TEAM_LEAD = "team-lead"
    AGENCY = "agency"
    COMPLIANCE = "compliance"
    BORROWER = "borrower"


class PasswordHashing:
    """Argon2id hashing with one set of parameters.

    The defaults are argon2-cffi's (RFC 9106 low-memory profile). Tests pass a cheap
    `PasswordHasher` so a suite that creates hundreds of users stays fast.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = PasswordHasher() if hasher is None else hasher
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches; False for a mismatch or an unreadable hash."""
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def dummy_hash(self) -> str:
        """A hash of a random password, verified when a username does not exist, so an
        unknown user costs as much time as a wrong password and does not reveal itself."""
        with self._lock:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(24))
            return self._dummy


class TokenError(Exception):
    """A token was refused. `reason` is "expired" or "invalid" (tampered, malformed, wrong
    algorithm or claims); entry points answer 401 either way."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    agency_id: str | None = None
    borrower_id: str | None = None


ALGORITHM = "HS256"


class TokenService:
    """Issue and check access tokens with the configured secret and lifetime."""

    def __init__(self, secret: str, minutes: int, clock: Clock) -> None:
        if not secret:
            raise ValueError("a token secret is needed")
        if minutes <= 0:
            raise ValueError("token lifetime must be positive")
        self._secret = secret
        self._lifetime = timedelta(minutes=minutes)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> TokenService:
        return cls(settings.token_secret, settings.token_minutes, clock)

    def issue(
        self,
        subject: str,
        role: Role,
        *,
        agency_id: str | None = None,
        borrower_id: str | None = None,
    ) -> str:
        """A signed token; agency users carry their agency, borrowers their borrower id, so
        every request can be scoped without another lookup."""
        _check_scope(role, agency_id, borrower_id)
        now = self._clock.now().astimezone(UTC).replace(microsecond=0)
        claims: dict[str, Any] = {
            "sub": subject,
            "role": role.value,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
        }
        if agency_id is not None:
            claims["agency_id"] = agency_id
        if borrower_id is not None:
            claims["borrower_id"] = borrower_id
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={
                    "require": ["sub", "role", "iat", "exp"],
                    # Time is checked below against the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError("invalid", f"token refused: {exc}") from exc
        try:
            role = Role(claims["role"])
            issued = datetime.fromtimestamp(int(claims["iat"]), UTC)
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            subject = str(claims["sub"])
            agency_id = _optional_str(claims.get("agency_id"))
            borrower_id = _optional_str(claims.get("borrower_id"))
            _check_scope(role, agency_id, borrower_id)
        except (ValueError, TypeError, OverflowError) as exc:
            raise TokenError("invalid", f"token claims refused: {exc}") from exc
        if self._clock.now() >= expires:
            raise TokenError("expired", "token has expired")
        return TokenClaims(subject, role, issued, expires, agency_id, borrower_id)


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("scope claims are strings")
    return value


def _check_scope(role: Role, agency_id: str | None, borrower_id: str | None) -> None:
    """Agency users need their agency and borrowers their borrower id; nobody else has them,
    so a staff token can never be mistaken for a scoped one."""
    if (role is Role.AGENCY) != (agency_id is not None):
        raise ValueError("agency_id is required for, and only for, the agency role")
    if (role is Role.BORROWER) != (borrower_id is not None):
        raise ValueError("borrower_id is required for, and only for, the borrower role")


class LoginThrottled(Exception):
    """Too many failed logins for this username or address; try again after `retry_after`."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        seconds = max(1, int(retry_after.total_seconds()))
        super().__init__(f"too many failed logins; try again in {seconds} seconds")


@dataclass
class _Tally:
    failures: deque[datetime]
    locked_until: datetime | None = None


class LoginRateLimiter:
    """In-memory failure counting per username and per client address.

    `max_failures` failures within `window` lock the username (or address) for `lockout`.
    In memory because one process serves the API; behind several processes each counts its
    own, which still bounds guessing to a small multiple. A success clears the username's
    failures but not the address's, so an attacker cannot reset the address count by logging
    into an account of their own between guesses.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        lockout: timedelta = timedelta(minutes=15),
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._lockout = lockout
        self._tallies: dict[tuple[str, str], _Tally] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("user", username.strip().lower())]
        if address:
            keys.append(("address", address))
        return keys

    def _prune(self, tally: _Tally, now: datetime) -> None:
        while tally.failures and tally.failures[0] <= now - self._window:
            tally.failures.popleft()
        if tally.locked_until is not None and tally.locked_until <= now:
            tally.locked_until = None

    def check(self, username: str, address: str | None) -> None:
        """Raise `LoginThrottled` when either the username or the address is locked; call it
        before verifying the password, so a locked account costs no Argon2 work."""
        now = self._clock.now()
        with self._lock:
            waits = []
            for key in self._keys(username, address):
                tally = self._tallies.get(key)
                if tally is None:
                    continue
                self._prune(tally, now)
                if tally.locked_until is not None:
                    waits.append(tally.locked_until - now)
            if waits:
                raise LoginThrottled(max(waits))

    def record_failure(self, username: str, address: str | None) -> None:
        now = self._clock.now()
        with self._lock:
            for key in self._keys(username, address):
                tally = self._tallies.setdefault(key, _Tally(deque()))
                self._prune(tally, now)
                tally.failures.append(now)
                if len(tally.failures) >= self._max:
                    tally.locked_until = now + self._lockout
                    tally.failures.clear()
            self._sweep(now)

    def record_success(self, username: str, address: str | None) -> None:
        with self._lock:
            self._tallies.pop(("user", username.strip().lower()), None)

    def _sweep(self, now: datetime) -> None:
        """Forget idle entries so a scan over many usernames cannot grow memory without end."""
        if len(self._tallies) < 10_000:
            return
        for key in list(self._tallies):
            tally = self._tallies[key]
            self._prune(tally, now)
            if not tally.failures and tally.locked_until is None:
                del self._tallies[key]
