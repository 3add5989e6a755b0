"""Staff, agency and borrower accounts: creation with checked input, and password login.

`tailguard user create` and the administrator's console create users through `create_user`;
the OAuth2 password endpoint logs in through `authenticate`. Both run on the caller's
connection and transaction and never commit, so the caller's audit row commits with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailguard.errors import FieldError, InvalidInput
from tailguard.infra.auth import PasswordHashing, Role
from tailguard.infra.clock import Clock
from tailguard.infra.db import tables

USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
PASSWORD_MIN = 10
PASSWORD_MAX = 256
"""Long enough for any passphrase; bounded so a megabyte "password" cannot tie up Argon2."""

DEFAULT_PASSWORDS = PasswordHashing()


@dataclass(frozen=True)
class User:
    """A user as the rest of tailguard sees it: never the password hash."""

    id: int
    username: str
    role: Role
    active: bool
    agency_id: str | None
    borrower_id: str | None


def normalise_username(username: str) -> str:
    """Usernames compare case-insensitively: `Alice` and `alice` are one account."""
    return username.strip().lower()


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        active=bool(row.active),
        agency_id=row.agency_id,
        borrower_id=row.borrower_id,
    )


def _validate(
    username: str,
    password: str,
    role: Role | str,
    agency_id: str | None,
    borrower_id: str | None,
) -> Role | None:
    errors: list[FieldError] = []
    if not USERNAME.fullmatch(username):
        errors.append(
            FieldError(
                "username",
                "format",
                "3 to 64 characters: lower-case letters, digits, dot, underscore, hyphen",
            )
        )
    if len(password) < PASSWORD_MIN:
        errors.append(FieldError("password", "too_short", f"at least {PASSWORD_MIN} characters"))
    elif len(password) > PASSWORD_MAX:
        errors.append(FieldError("password", "too_long", f"at most {PASSWORD_MAX} characters"))
    checked: Role | None = None
    try:
        checked = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        errors.append(FieldError("role", "unknown", f"one of {allowed}"))
    if checked is not None:
        if checked is Role.AGENCY and not agency_id:
            errors.append(FieldError("agency_id", "required", "agency users need their agency"))
        if checked is not Role.AGENCY and agency_id:
            errors.append(FieldError("agency_id", "not_allowed", "only agency users have one"))
        if checked is Role.BORROWER and not borrower_id:
            errors.append(
                FieldError("borrower_id", "required", "borrower users need their borrower id")
            )
        if checked is not Role.BORROWER and borrower_id:
            errors.append(FieldError("borrower_id", "not_allowed", "only borrower users have one"))
    if errors:
        raise InvalidInput(errors)
    return checked


def _taken() -> InvalidInput:
    return InvalidInput.one("username", "taken", "this username is already in use")


def find_user(connection: Connection, username: str) -> User | None:
    row = connection.execute(
        select(tables.users).where(tables.users.c.username == normalise_username(username))
    ).first()
    return None if row is None else _user(row)


def create_user(
    connection: Connection,
    clock: Clock,
    username: str,
    password: str,
    role: Role | str,
    agency_id: str | None = None,
    borrower_id: str | None = None,
    *,
    passwords: PasswordHashing = DEFAULT_PASSWORDS,
) -> User:
    """Create an active user, or raise `InvalidInput` naming every wrong field.

    A duplicate username is refused before hashing; a concurrent insert of the same name is
    caught by the unique index inside a savepoint, so the caller's transaction stays usable.
    """
    name = normalise_username(username)
    checked = _validate(name, password, role, agency_id, borrower_id)
    assert checked is not None
    if find_user(connection, name) is not None:
        raise _taken()
    values = {
        "username": name,
        "password_hash": passwords.hash(password),
        "role": checked.value,
        "active": True,
        "agency_id": agency_id,
        "borrower_id": borrower_id,
        "recorded_at": clock.now(),
    }
    try:
        with connection.begin_nested():
            result = connection.execute(insert(tables.users).values(**values))
    except IntegrityError as exc:
        raise _taken() from exc
    (user_id,) = result.inserted_primary_key or (None,)
    assert user_id is not None
    return User(int(user_id), name, checked, True, agency_id, borrower_id)


def authenticate(
    connection: Connection,
    username: str,
    password: str,
    *,
    passwords: PasswordHashing = DEFAULT_PASSWORDS,
) -> User | None:
    """The active user with this username and password, or None.

    An unknown username is checked against a dummy hash so it takes as long as a wrong
    password. On success a hash made with outdated Argon2 parameters is replaced in the
    caller's transaction (it is only possible while the password is at hand).
    """
    name = normalise_username(username)
    row = connection.execute(select(tables.users).where(tables.users.c.username == name)).first()
    if row is None:
        passwords.verify(passwords.dummy_hash(), password)
        return None
    if not passwords.verify(row.password_hash, password):
        return None
    if not row.active:
        return None
    if passwords.needs_rehash(row.password_hash):
        connection.execute(
            update(tables.users)
            .where(tables.users.c.id == row.id)
            .values(password_hash=passwords.hash(password))
        )
    return _user(row)
