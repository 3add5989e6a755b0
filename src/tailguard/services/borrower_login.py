"""Borrower login with a phone number and a one-time code sent by SMS.

- A code is six random digits, valid for five minutes, stored only as an HMAC (keyed with the
  token secret) beside the phone's lookup hash: a copy of the table yields neither codes nor
  phone numbers.
- Five wrong tries use a code up; a new code must be asked for.
- Rate limits per phone number, counted in the database so every process agrees: one code per
  minute, five per hour.
- The answer to "send me a code" is the same whether or not the phone belongs to a borrower
  (no way to probe who is a customer); a code is only texted to a borrower's phone.
- Success names the party the session is for: the borrower of a loan with that phone (the
  most recently recorded one when a person was booked more than once; the app then shows every
  loan of the same ID number, see `borrower_portal.owned_loans`).

Each use case is one unit of work with its audit row; a successful login emits
`BorrowerLoggedIn`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from tailguard.errors import InvalidInput, Refused
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import tables
from tailguard.infra.db.tables_web import login_codes
from tailguard.infra.otp_sms import CodeSender
from tailguard.infra.pii import PiiField
from tailguard.origination.identity import mobile_phone
from tailguard.services.platform import Platform

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
MAX_PER_HOUR = 5


@dataclass(frozen=True)
class CodeIssued:
    phone: str
    """The phone in E.164, as the form should show it back."""
    expires_at: datetime


@dataclass(frozen=True)
class BorrowerLogin:
    party_id: str
    phone: str


def _code_hash(platform: Platform, phone_hash: str, code: str) -> str:
    key = platform.settings.token_secret.encode()
    return hmac.new(key, f"login-code\x00{phone_hash}\x00{code}".encode(),
                    hashlib.sha256).hexdigest()


def _phone(platform: Platform, text: str) -> tuple[str, str]:
    if not text.strip():
        raise InvalidInput.one("phone", "required", "enter your mobile number")
    phone = mobile_phone(text, field="phone")
    cipher = FieldCipher.from_settings(platform.settings)
    return phone, cipher.lookup_hash(PiiField.PHONE.value, phone)


def _borrower_party(platform: Platform, connection: Connection, phone: str) -> str | None:
    """The most recently recorded party with this phone that borrows on a loan."""
    cipher = FieldCipher.from_settings(platform.settings)
    hashes = cipher.lookup_hashes(PiiField.PHONE.value, phone)
    parties, loans = tables.parties, tables.loans
    query = (select(parties.c.id)
             .where(parties.c.phone_hash.in_(hashes))
             .where(select(loans.c.id).where(loans.c.borrower_id == parties.c.id).exists())
             .order_by(parties.c.recorded_at.desc(), parties.c.id.desc()).limit(1))
    found: str | None = connection.execute(query).scalar_one_or_none()
    return found


def request_code(platform: Platform, phone_text: str, sender: CodeSender) -> CodeIssued:
    """Issue a code for this phone (texted only when it is a borrower's), within the limits."""
    phone, phone_hash = _phone(platform, phone_text)
    with platform.uow("borrower-app") as uow:
        now = uow.clock.now()
        conn = uow.connection
        recent = conn.execute(
            select(func.count(), func.max(login_codes.c.recorded_at))
            .where(login_codes.c.phone_hash == phone_hash)
            .where(login_codes.c.recorded_at > now - timedelta(hours=1))
        ).one()
        count, last = int(recent[0]), recent[1]
        if last is not None and last.tzinfo is None:  # SQLite returns naive UTC
            last = last.replace(tzinfo=now.tzinfo)
        if last is not None and now - last < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
            raise Refused("CODE_TOO_SOON", f"a code was just sent; ask again in {wait} seconds")
        if count >= MAX_PER_HOUR:
            raise Refused("CODE_LIMIT", "too many codes for this number; try again in an hour")
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        expires = now + CODE_LIFETIME
        conn.execute(insert(login_codes).values(
            phone_hash=phone_hash, code_hash=_code_hash(platform, phone_hash, code),
            expires_at=expires, attempts=0, consumed_at=None, recorded_at=now))
        party = _borrower_party(platform, conn, phone)
        uow.audit("borrower.login_code", "phone", phone_hash[:16],
                  {"sent": party is not None})
        if party is not None:
            minutes = int(CODE_LIFETIME.total_seconds() // 60)
            sender.send_code(phone, f"【天衢】您的登录验证码是 {code}，{minutes} 分钟内有效。"
                                    f"Your tailguard login code is {code}.")
        uow.commit()
    return CodeIssued(phone, expires)


def verify_code(platform: Platform, phone_text: str, code_text: str) -> BorrowerLogin:
    """The borrower behind a correct, live code; the code is used up.

    Wrong codes raise `InvalidInput` on `code` (and count against the code); a code tried too
    often, expired or never sent gets the same wording, so nothing is learnt from the error.
    """
    phone, phone_hash = _phone(platform, phone_text)
    code = code_text.strip()
    if not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
        raise InvalidInput.one("code", "format", f"the code has {CODE_DIGITS} digits")
    wrong = InvalidInput.one("code", "wrong", "this code is wrong or has expired; ask for a "
                                              "new one")
    with platform.uow("borrower-app") as uow:
        now = uow.clock.now()
        conn = uow.connection
        row = conn.execute(
            select(login_codes).where(login_codes.c.phone_hash == phone_hash)
            .where(login_codes.c.consumed_at.is_(None))
            .order_by(login_codes.c.id.desc()).limit(1)
        ).mappings().first()
        if row is None:
            raise wrong
        expires = row["expires_at"]
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires <= now or row["attempts"] >= MAX_ATTEMPTS:
            raise wrong
        if not hmac.compare_digest(row["code_hash"], _code_hash(platform, phone_hash, code)):
            conn.execute(update(login_codes).where(login_codes.c.id == row["id"])
                         .values(attempts=login_codes.c.attempts + 1))
            uow.audit("borrower.login_failed", "phone", phone_hash[:16],
                      {"attempt": row["attempts"] + 1})
            uow.commit()
            if row["attempts"] + 1 >= MAX_ATTEMPTS:
                raise Refused("CODE_LOCKED", "too many wrong codes; ask for a new one")
            raise wrong
        party = _borrower_party(platform, conn, phone)
        conn.execute(update(login_codes).where(login_codes.c.id == row["id"])
                     .values(consumed_at=now))
        if party is None:
            uow.commit()
            raise wrong
        uow.audit("borrower.login", "party", party, {"method": "sms-code"})
        uow.emit("BorrowerLoggedIn", party, {"party_id": party, "method": "sms-code"})
        uow.commit()
    return BorrowerLogin(party, phone)
