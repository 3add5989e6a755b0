"""Password hashing, access tokens and login throttling, with a fixed clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher

from tailguard.infra.auth import (
    LoginRateLimiter,
    LoginThrottled,
    PasswordHashing,
    Role,
    TokenError,
    TokenService,
)
from tailguard.infra.clock import FixedClock
from tailguard.infra.settings import load_settings

SECRET = "a-test-secret-long-enough-even-for-hs512-keys-which-want-64-bytes!"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_roles_are_the_design_roles() -> None:
    assert [r.value for r in Role] == [
        "administrator",
        "credit-officer",
        "servicing",
        "risk",
        "collector",
        "team-lead",
        "agency",
        "compliance",
        "borrower",
    ]


# --- passwords ----------------------------------------------------------------------------


def test_password_hash_and_verify() -> None:
    passwords = PasswordHashing(CHEAP)
    hashed = passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert passwords.verify(hashed, "correct horse battery")
    assert not passwords.verify(hashed, "correct horse batterY")
    assert not passwords.verify("not-a-hash", "correct horse battery")
    assert passwords.hash("correct horse battery") != hashed  # salted


def test_needs_rehash_when_parameters_change() -> None:
    weak = PasswordHashing(CHEAP)
    stronger = PasswordHashing(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    hashed = weak.hash("correct horse battery")
    assert not weak.needs_rehash(hashed)
    assert stronger.needs_rehash(hashed)
    assert stronger.verify(hashed, "correct horse battery")


def test_dummy_hash_is_stable_and_matches_nothing_common() -> None:
    passwords = PasswordHashing(CHEAP)
    dummy = passwords.dummy_hash()
    assert passwords.dummy_hash() is dummy
    assert not passwords.verify(dummy, "")
    assert not passwords.verify(dummy, "password123")


# --- tokens -------------------------------------------------------------------------------


def _service(clock: FixedClock, minutes: int = 30) -> TokenService:
    return TokenService(SECRET, minutes, clock)


def _payload(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_token_round_trip_and_claims() -> None:
    clock = FixedClock.at(date(2026, 3, 2))
    service = _service(clock)
    token = service.issue("wang.fang", Role.COLLECTOR)
    payload = _payload(token)
    assert payload["sub"] == "wang.fang"
    assert payload["role"] == "collector"
    assert payload["iat"] == int(clock.now().timestamp())
    assert payload["exp"] == int(clock.now().timestamp()) + 30 * 60
    assert "agency_id" not in payload and "borrower_id" not in payload
    claims = service.decode(token)
    assert claims.subject == "wang.fang"
    assert claims.role is Role.COLLECTOR
    assert claims.expires_at - claims.issued_at == timedelta(minutes=30)
    assert claims.issued_at.tzinfo is UTC


def test_scoped_roles_carry_their_scope() -> None:
    service = _service(FixedClock.at(date(2026, 3, 2)))
    agency = service.decode(service.issue("acme.1", Role.AGENCY, agency_id="AG-7"))
    assert (agency.role, agency.agency_id, agency.borrower_id) == (Role.AGENCY, "AG-7", None)
    borrower = service.decode(service.issue("li.lei", Role.BORROWER, borrower_id="P-42"))
    assert borrower.borrower_id == "P-42"
    with pytest.raises(ValueError):
        service.issue("acme.1", Role.AGENCY)
    with pytest.raises(ValueError):
        service.issue("li.lei", Role.BORROWER)
    with pytest.raises(ValueError):
        service.issue("wang.fang", Role.COLLECTOR, agency_id="AG-7")


def test_expiry_follows_the_injected_clock() -> None:
    clock = FixedClock.at(date(2020, 1, 1))  # far in the real past: the clock is what counts
    service = _service(clock, minutes=15)
    token = service.issue("wang.fang", Role.SERVICING)
    clock.advance(timedelta(minutes=14, seconds=59))
    assert service.decode(token).subject == "wang.fang"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenError) as caught:
        service.decode(token)
    assert caught.value.reason == "expired"


def _forge(payload: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def _now_claims(clock: FixedClock) -> dict[str, object]:
    now = int(clock.now().timestamp())
    return {"sub": "wang.fang", "role": "collector", "iat": now, "exp": now + 600}


def _tamper(token: str) -> str:
    header, body, signature = token.split(".")
    payload = _payload(token)
    payload["role"] = "compliance"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert forged != body
    return ".".join([header, forged, signature])


@pytest.mark.parametrize(
    "make",
    [
        lambda c, s: _tamper(s.issue("wang.fang", Role.COLLECTOR)),
        lambda c, s: s.issue("wang.fang", Role.COLLECTOR)[:-2] + "AA",
        lambda c, s: _forge(_now_claims(c), secret="another-secret-of-enough-length-1234567"),
        lambda c, s: _forge(_now_claims(c), algorithm="HS512"),
        lambda c, s: jwt.encode(_now_claims(c), "", algorithm="none"),
        lambda c, s: _forge({**_now_claims(c), "role": "superuser"}),
        lambda c, s: _forge({k: v for k, v in _now_claims(c).items() if k != "exp"}),
        lambda c, s: _forge({k: v for k, v in _now_claims(c).items() if k != "role"}),
        lambda c, s: _forge({**_now_claims(c), "role": "agency"}),  # agency without agency_id
        lambda c, s: _forge({**_now_claims(c), "borrower_id": "P-1"}),  # collector with scope
        lambda c, s: _forge({**_now_claims(c), "exp": "soon"}),
        lambda c, s: "not.a.token",
        lambda c, s: "",
    ],
)
def test_tampered_or_malformed_tokens_are_refused(make: object) -> None:
    clock = FixedClock.at(date(2026, 3, 2))
    service = _service(clock)
    assert callable(make)
    token = make(clock, service)
    with pytest.raises(TokenError) as caught:
        service.decode(token)
    assert caught.value.reason == "invalid"


def test_token_service_from_settings() -> None:
    settings = load_settings({"TAILGUARD_TOKEN_MINUTES": "5"})
    clock = FixedClock(datetime(2026, 3, 2, 4, 0, tzinfo=UTC))
    service = TokenService.from_settings(settings, clock)
    token = service.issue("admin", Role.ADMINISTRATOR)
    assert _payload(token)["exp"] == int(clock.now().timestamp()) + 300
    assert TokenService(settings.token_secret, 5, clock).decode(token).role is Role.ADMINISTRATOR
    with pytest.raises(ValueError):
        TokenService("", 5, clock)
    with pytest.raises(ValueError):
        TokenService(SECRET, 0, clock)


# --- login throttling ---------------------------------------------------------------------


def _limiter() -> tuple[FixedClock, LoginRateLimiter]:
    clock = FixedClock.at(date(2026, 3, 2))
    return clock, LoginRateLimiter(clock)


def test_five_failures_lock_the_username_for_fifteen_minutes() -> None:
    clock, limiter = _limiter()
    for attempt in range(5):
        limiter.check("wang.fang", f"10.0.0.{attempt}")
        limiter.record_failure("wang.fang", f"10.0.0.{attempt}")
    with pytest.raises(LoginThrottled) as caught:
        limiter.check("Wang.Fang", "192.168.1.1")  # any address, any case
    assert caught.value.retry_after == timedelta(minutes=15)
    clock.advance(timedelta(minutes=14))
    with pytest.raises(LoginThrottled) as caught:
        limiter.check("wang.fang", "192.168.1.1")
    assert caught.value.retry_after == timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    limiter.check("wang.fang", "192.168.1.1")


def test_failures_outside_the_window_do_not_count() -> None:
    clock, limiter = _limiter()
    for _ in range(4):
        limiter.record_failure("wang.fang", None)
    clock.advance(timedelta(minutes=15))
    limiter.record_failure("wang.fang", None)
    limiter.check("wang.fang", None)
    for _ in range(3):
        limiter.record_failure("wang.fang", None)
    limiter.check("wang.fang", None)  # four within the window
    limiter.record_failure("wang.fang", None)
    with pytest.raises(LoginThrottled):
        limiter.check("wang.fang", None)


def test_one_address_spraying_many_usernames_is_locked() -> None:
    _clock, limiter = _limiter()
    for n in range(5):
        limiter.record_failure(f"user{n}", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        limiter.check("someone.else", "203.0.113.9")
    limiter.check("someone.else", "203.0.113.10")


def test_success_clears_the_username_but_not_the_address() -> None:
    _clock, limiter = _limiter()
    for _ in range(4):
        limiter.record_failure("wang.fang", "203.0.113.9")
    limiter.record_success("wang.fang", "203.0.113.9")
    limiter.record_failure("wang.fang", "198.51.100.1")
    limiter.check("wang.fang", "198.51.100.1")  # username count restarted at 1
    limiter.record_failure("attacker", "203.0.113.9")  # the address's fifth failure
    with pytest.raises(LoginThrottled):
        limiter.check("wang.fang", "203.0.113.9")


def test_limiter_settings_are_checked() -> None:
    clock = FixedClock.at(date(2026, 3, 2))
    with pytest.raises(ValueError):
        LoginRateLimiter(clock, max_failures=0)
    limiter = LoginRateLimiter(clock, max_failures=2, lockout=timedelta(minutes=1))
    limiter.record_failure("a.b", None)
    limiter.record_failure("a.b", None)
    with pytest.raises(LoginThrottled) as caught:
        limiter.check("a.b", None)
    assert caught.value.retry_after == timedelta(minutes=1)
