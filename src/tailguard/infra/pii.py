"""Personal data of parties (borrowers, guarantors): sealed on write, masked or audited on read.

Services never touch `*_enc` columns themselves; they go through `PersonalData`, which keeps
three promises of DESIGN.md ("Security and privacy"):

1. ID number, phone, address and bank card are stored only encrypted (`FieldCipher`), with a
   keyed hash beside the ID number and phone so duplicates and look-ups work without decrypting.
2. Screens get masked values by default (`masked`), which needs no audit: a masked value
   identifies nobody on its own.
3. A full value (`unmasked`) needs a role allowed to see that field (`UNMASK_POLICY`) and a
   stated reason, and writes a `pii.read` audit row in the caller's transaction. The caller
   commits, as with every write: a read-only service must still commit its unit of work, or the
   audit row is rolled back with it.

Values are passed in canonical form (the ID number from `origination.identity.resident_id`,
the phone in E.164 from `mobile_phone`): the lookup hash of two spellings differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import insert, select

from tailguard.errors import InvalidInput, Refused
from tailguard.infra.auth import Role
from tailguard.infra.crypto import (
    FieldCipher,
    mask_address,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
)
from tailguard.infra.db import tables
from tailguard.infra.db.uow import UnitOfWork


class PiiField(StrEnum):
    NAME = "name"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    BANK_CARD = "bank_card"


_ALL = frozenset(PiiField)


@dataclass(frozen=True)
class UnmaskRule:
    """Which fields a role may see in full, and whether only within its own scope."""

    fields: frozenset[PiiField]
    scoped: bool
    why: str


UNMASK_POLICY: Mapping[Role, UnmaskRule] = MappingProxyType(
    {
        Role.ADMINISTRATOR: UnmaskRule(
            frozenset(),
            False,
            "manages accounts and configuration and works no cases; an administrator who needs "
            "a value for a case does it under a case role",
        ),
        Role.CREDIT_OFFICER: UnmaskRule(
            frozenset({PiiField.NAME, PiiField.ID_NUMBER, PiiField.PHONE, PiiField.ADDRESS}),
            False,
            "checks the ID card against bureau and ID-verification results, calls the applicant "
            "and checks the residence for the regional (异地) review",
        ),
        Role.SERVICING: UnmaskRule(
            frozenset({PiiField.NAME, PiiField.PHONE, PiiField.BANK_CARD}),
            False,
            "sets up auto-debit, resolves failed debits with the bank, and calls about payments",
        ),
        Role.RISK: UnmaskRule(
            frozenset(),
            False,
            "works on portfolios and on features derived from region codes and hashes; a model "
            "never needs a person's number",
        ),
        Role.COLLECTOR: UnmaskRule(
            frozenset({PiiField.NAME, PiiField.PHONE}),
            False,
            "calls the debtor; the address reaches a field team with a visit assignment, "
            "not a collector's screen",
        ),
        Role.TEAM_LEAD: UnmaskRule(
            frozenset({PiiField.NAME, PiiField.PHONE, PiiField.ADDRESS}),
            False,
            "plans field visits (外访) and takes escalated calls",
        ),
        Role.AGENCY: UnmaskRule(
            frozenset({PiiField.NAME, PiiField.PHONE}),
            True,
            "an outside agency calls only the debtors of cases placed with it; the service "
            "confirms the placement before asking",
        ),
        Role.COMPLIANCE: UnmaskRule(
            _ALL,
            False,
            "audits, complaint handling and regulator requests need the full record",
        ),
        Role.BORROWER: UnmaskRule(
            _ALL,
            True,
            "a person may see their own data (PIPL Art. 45); the service confirms the party is "
            "the borrower of the token",
        ),
    }
)
"""Why a table in code: it changes with a reviewed commit, never with a console click, and a
test walks it; an ADR records any change."""

MIN_REASON_LENGTH = 4


def may_unmask(role: Role, field: PiiField, *, within_scope: bool) -> bool:
    rule = UNMASK_POLICY[role]
    return field in rule.fields and (within_scope or not rule.scoped)


class PiiAccessDenied(Refused):
    def __init__(self, role: Role, fields: Iterable[PiiField]) -> None:
        names = ", ".join(sorted(f.value for f in fields))
        super().__init__("pii_access_denied", f"role {role.value} may not see {names} unmasked")


class PartyNotFound(LookupError):
    pass


@dataclass(frozen=True)
class PartyView:
    """A party's personal fields as a screen shows them (masked or not)."""

    party_id: str
    name: str
    id_number: str
    phone: str
    address: str | None
    bank_card: str | None


_ENCRYPTED = {
    PiiField.ID_NUMBER: "id_number_enc",
    PiiField.PHONE: "phone_enc",
    PiiField.ADDRESS: "address_enc",
    PiiField.BANK_CARD: "bank_card_enc",
}
_MASKS = {
    PiiField.NAME: mask_name,
    PiiField.ID_NUMBER: mask_id_number,
    PiiField.PHONE: mask_phone,
    PiiField.ADDRESS: mask_address,
    PiiField.BANK_CARD: mask_bank_card,
}


class PersonalData:
    def __init__(self, uow: UnitOfWork, cipher: FieldCipher) -> None:
        self.uow = uow
        self.cipher = cipher

    def seal(
        self,
        *,
        id_number: str,
        phone: str,
        address: str | None = None,
        bank_card: str | None = None,
    ) -> dict[str, Any]:
        """The `parties` column values for the personal fields: ciphertexts and hashes."""
        enc = self.cipher.encrypt
        return {
            "id_number_enc": enc(PiiField.ID_NUMBER.value, id_number),
            "id_number_hash": self.cipher.lookup_hash(PiiField.ID_NUMBER.value, id_number),
            "phone_enc": enc(PiiField.PHONE.value, phone),
            "phone_hash": self.cipher.lookup_hash(PiiField.PHONE.value, phone),
            "address_enc": None if address is None else enc(PiiField.ADDRESS.value, address),
            "bank_card_enc": (
                None if bank_card is None else enc(PiiField.BANK_CARD.value, bank_card)
            ),
        }

    def insert_party(
        self,
        party_id: str,
        name: str,
        *,
        id_number: str,
        phone: str,
        address: str | None = None,
        bank_card: str | None = None,
        birth_date: date | None = None,
        id_region_code: str | None = None,
        residence_region_code: str | None = None,
        employer: str | None = None,
    ) -> None:
        """Write a party with its personal fields sealed; the caller audits and commits."""
        self.uow.connection.execute(
            insert(tables.parties).values(
                id=party_id,
                name=name,
                birth_date=birth_date,
                id_region_code=id_region_code,
                residence_region_code=residence_region_code,
                employer=employer,
                recorded_at=self.uow.clock.now(),
                **self.seal(id_number=id_number, phone=phone, address=address, bank_card=bank_card),
            )
        )

    def find_by_id_number(self, id_number: str) -> tuple[str, ...]:
        """Party ids holding this ID number, found by hash under every configured key."""
        hashes = self.cipher.lookup_hashes(PiiField.ID_NUMBER.value, id_number)
        return self._find(tables.parties.c.id_number_hash, hashes)

    def find_by_phone(self, phone: str) -> tuple[str, ...]:
        hashes = self.cipher.lookup_hashes(PiiField.PHONE.value, phone)
        return self._find(tables.parties.c.phone_hash, hashes)

    def _find(self, column: Any, hashes: tuple[str, ...]) -> tuple[str, ...]:
        rows = self.uow.connection.execute(
            select(tables.parties.c.id).where(column.in_(hashes)).order_by(tables.parties.c.id)
        )
        return tuple(rows.scalars())

    def _plain(self, party_id: str) -> dict[PiiField, str | None]:
        row = self.uow.connection.execute(
            select(tables.parties).where(tables.parties.c.id == party_id)
        ).first()
        if row is None:
            raise PartyNotFound(party_id)
        values: dict[PiiField, str | None] = {PiiField.NAME: row.name}
        for field, column in _ENCRYPTED.items():
            blob = getattr(row, column)
            values[field] = None if blob is None else self.cipher.decrypt(field.value, blob)
        return values

    def masked(self, party_id: str) -> PartyView:
        """Every personal field masked; no audit row, since nothing identifying is shown."""
        plain = self._plain(party_id)
        shown = {
            field: None if value is None else _MASKS[field](value) for field, value in plain.items()
        }
        return _view(party_id, shown)

    def unmasked(
        self,
        party_id: str,
        fields: Iterable[PiiField | str],
        *,
        role: Role,
        reason: str,
        within_scope: bool = False,
    ) -> dict[PiiField, str | None]:
        """The full values of `fields`, audited as `pii.read`.

        `within_scope` is the caller's confirmation, from the repository that knows it, that
        the party belongs to a case placed with the agency (agency role) or is the borrower
        themself (borrower role); other roles ignore it.
        """
        wanted = _fields(fields)
        text = reason.strip()
        if len(text) < MIN_REASON_LENGTH:
            raise InvalidInput.one(
                "reason", "required", "say why the full value is needed (for the audit trail)"
            )
        denied = [f for f in wanted if not may_unmask(role, f, within_scope=within_scope)]
        if denied:
            raise PiiAccessDenied(role, denied)
        plain = self._plain(party_id)
        detail: dict[str, Any] = {
            "fields": sorted(f.value for f in wanted),
            "role": role.value,
            "reason": text,
        }
        if UNMASK_POLICY[role].scoped:
            detail["within_scope"] = within_scope
        self.uow.audit("pii.read", "party", party_id, detail)
        return {field: plain[field] for field in wanted}

    def for_document(
        self, party_id: str, fields: Iterable[PiiField | str], *, reason: str, document: str
    ) -> dict[PiiField, str | None]:
        """Full values the system itself writes into a legal document (a contract names the
        borrower by full name and ID number), audited as `pii.read` with the reason and the
        document, in the caller's transaction. No staff member sees them here; who may read
        the document afterwards is the document endpoint's role list."""
        wanted = _fields(fields)
        text = reason.strip()
        if len(text) < MIN_REASON_LENGTH:
            raise InvalidInput.one("reason", "required", "say why the full value is needed")
        plain = self._plain(party_id)
        self.uow.audit("pii.read", "party", party_id, {
            "fields": sorted(f.value for f in wanted), "role": "system", "reason": text,
            "document": document,
        })
        return {field: plain[field] for field in wanted}


def _fields(fields: Iterable[PiiField | str]) -> tuple[PiiField, ...]:
    wanted: list[PiiField] = []
    for item in fields:
        try:
            field = PiiField(item)
        except ValueError as exc:
            allowed = ", ".join(f.value for f in PiiField)
            message = f"{item!r} is not one of {allowed}"
            raise InvalidInput.one("fields", "unknown", message) from exc
        if field not in wanted:
            wanted.append(field)
    if not wanted:
        raise InvalidInput.one("fields", "required", "name at least one field to show")
    return tuple(wanted)


def _view(party_id: str, values: Mapping[PiiField, str | None]) -> PartyView:
    name = values[PiiField.NAME]
    id_number = values[PiiField.ID_NUMBER]
    phone = values[PiiField.PHONE]
    assert name is not None and id_number is not None and phone is not None
    return PartyView(
        party_id=party_id,
        name=name,
        id_number=id_number,
        phone=phone,
        address=values[PiiField.ADDRESS],
        bank_card=values[PiiField.BANK_CARD],
    )
