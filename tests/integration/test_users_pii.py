"""Users, login and personal data against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, event, func, select

from tailguard.errors import InvalidInput
from tailguard.infra import users as users_module
from tailguard.infra.auth import PasswordHashing, Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.crypto import FieldCipher, read_header
from tailguard.infra.db import tables
from tailguard.infra.db.uow import UnitOfWork
from tailguard.infra.pii import (
    UNMASK_POLICY,
    PartyNotFound,
    PersonalData,
    PiiAccessDenied,
    PiiField,
    may_unmask,
)
from tailguard.infra.users import authenticate, create_user, find_user
from tailguard.regions.divisions import load_divisions
from tailguard.regions.seed import load_regions

CHEAP = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
KEY_2024 = ("2024", bytes(range(32)))
KEY_2025 = ("2025", bytes(range(50, 82)))
PASSWORD = "correct horse battery"

ID_NUMBER = "11010519491231002X"
PHONE = "+8613800138000"
ADDRESS = "浙江省杭州市西湖区文三路90号"
CARD = "6222020200112233445"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock.at(date(2026, 3, 2))


class CountingHashing(PasswordHashing):
    def __init__(self) -> None:
        super().__init__(CHEAP.hasher)
        self.verified: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return super().verify(password_hash, password)


# --- users --------------------------------------------------------------------------------


def test_create_and_authenticate(engine: Engine, clock: FixedClock) -> None:
    with engine.begin() as connection:
        created = create_user(
            connection, clock, "Wang.Fang", PASSWORD, Role.COLLECTOR, passwords=CHEAP
        )
        agency = create_user(
            connection, clock, "acme-1", PASSWORD, "agency", agency_id="AG-7", passwords=CHEAP
        )
    assert created.username == "wang.fang"
    assert created.role is Role.COLLECTOR
    assert agency.agency_id == "AG-7"
    with engine.connect() as connection:
        stored = connection.execute(select(tables.users.c.password_hash)).scalars().all()
        assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)
        user = authenticate(connection, "WANG.FANG", PASSWORD, passwords=CHEAP)
        assert user == created
        assert authenticate(connection, "wang.fang", PASSWORD + "!", passwords=CHEAP) is None
        assert find_user(connection, "acme-1") == agency


def test_unknown_user_costs_a_verification(engine: Engine) -> None:
    counting = CountingHashing()
    with engine.connect() as connection:
        assert authenticate(connection, "nobody", PASSWORD, passwords=counting) is None
    assert counting.verified == [counting.dummy_hash()]


def test_inactive_user_cannot_log_in(engine: Engine, clock: FixedClock) -> None:
    with engine.begin() as connection:
        create_user(connection, clock, "li.lei", PASSWORD, Role.SERVICING, passwords=CHEAP)
        connection.execute(tables.users.update().values(active=False))
    with engine.connect() as connection:
        assert authenticate(connection, "li.lei", PASSWORD, passwords=CHEAP) is None


@pytest.mark.parametrize(
    ("username", "password", "role", "agency_id", "borrower_id", "fields"),
    [
        ("ab", PASSWORD, "servicing", None, None, {"username"}),
        ("a" * 65, PASSWORD, "servicing", None, None, {"username"}),
        ("wang fang", PASSWORD, "servicing", None, None, {"username"}),
        ("王芳", PASSWORD, "servicing", None, None, {"username"}),
        ("wang.fang", "short", "servicing", None, None, {"password"}),
        ("wang.fang", "x" * 257, "servicing", None, None, {"password"}),
        ("wang.fang", PASSWORD, "superuser", None, None, {"role"}),
        ("wang.fang", PASSWORD, "agency", None, None, {"agency_id"}),
        ("wang.fang", PASSWORD, "borrower", None, None, {"borrower_id"}),
        ("wang.fang", PASSWORD, "collector", "AG-1", "P-1", {"agency_id", "borrower_id"}),
        ("x", "y", "nobody", None, None, {"username", "password", "role"}),
    ],
)
def test_create_user_names_the_wrong_fields(
    engine: Engine,
    clock: FixedClock,
    username: str,
    password: str,
    role: str,
    agency_id: str | None,
    borrower_id: str | None,
    fields: set[str],
) -> None:
    with engine.begin() as connection:
        with pytest.raises(InvalidInput) as caught:
            create_user(
                connection,
                clock,
                username,
                password,
                role,
                agency_id,
                borrower_id,
                passwords=CHEAP,
            )
        assert {e.field for e in caught.value.errors} == fields
        assert connection.execute(select(func.count()).select_from(tables.users)).scalar() == 0


def test_duplicate_usernames_are_refused(engine: Engine, clock: FixedClock) -> None:
    with engine.begin() as connection:
        create_user(connection, clock, "wang.fang", PASSWORD, Role.RISK, passwords=CHEAP)
        with pytest.raises(InvalidInput) as caught:
            create_user(connection, clock, "Wang.Fang", PASSWORD, Role.RISK, passwords=CHEAP)
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("username", "taken")


def test_concurrent_duplicate_leaves_the_transaction_usable(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the pre-check misses a user inserted by a concurrent request, the unique index
    refuses it inside a savepoint: on PostgreSQL the outer transaction would otherwise be
    aborted and every later statement fail."""
    with engine.begin() as connection:
        create_user(connection, clock, "wang.fang", PASSWORD, Role.RISK, passwords=CHEAP)
    monkeypatch.setattr(users_module, "find_user", lambda connection, username: None)
    with engine.begin() as connection:
        with pytest.raises(InvalidInput) as caught:
            create_user(connection, clock, "wang.fang", PASSWORD, Role.RISK, passwords=CHEAP)
        assert caught.value.errors[0].code == "taken"
        count = connection.execute(select(func.count()).select_from(tables.users)).scalar()
        assert count == 1


def test_login_upgrades_an_outdated_hash(engine: Engine, clock: FixedClock) -> None:
    stronger = PasswordHashing(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    with engine.begin() as connection:
        create_user(connection, clock, "wang.fang", PASSWORD, Role.RISK, passwords=CHEAP)
        old = connection.execute(select(tables.users.c.password_hash)).scalar_one()
        assert stronger.needs_rehash(old)
        assert authenticate(connection, "wang.fang", PASSWORD, passwords=stronger) is not None
    with engine.connect() as connection:
        new = connection.execute(select(tables.users.c.password_hash)).scalar_one()
    assert new != old
    assert not stronger.needs_rehash(new)
    assert stronger.verify(new, PASSWORD)


# --- personal data ------------------------------------------------------------------------


def _insert_party(engine: Engine, clock: FixedClock, cipher: FieldCipher, party_id: str) -> None:
    with UnitOfWork(engine, clock, actor="booking") as uow:
        PersonalData(uow, cipher).insert_party(
            party_id,
            "张三丰",
            id_number=ID_NUMBER,
            phone=PHONE,
            address=ADDRESS,
            bank_card=CARD,
            birth_date=date(1949, 12, 31),
            id_region_code="110105",
        )
        uow.commit()


def _audit_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(tables.audit_log).order_by(tables.audit_log.c.id)))


def test_personal_fields_are_stored_only_encrypted(engine: Engine, clock: FixedClock) -> None:
    cipher = FieldCipher([KEY_2025])
    _insert_party(engine, clock, cipher, "pty-1")
    with engine.connect() as connection:
        row = connection.execute(select(tables.parties)).one()
    for column, plain in [
        ("id_number_enc", ID_NUMBER),
        ("phone_enc", PHONE),
        ("address_enc", ADDRESS),
        ("bank_card_enc", CARD),
    ]:
        blob = bytes(getattr(row, column))
        assert plain.encode() not in blob
        assert read_header(blob).key_id == "2025"
    assert row.id_number_hash == cipher.lookup_hash("id_number", ID_NUMBER)
    assert row.phone_hash == cipher.lookup_hash("phone", PHONE)
    assert ID_NUMBER not in row.id_number_hash


def test_masked_read_needs_no_audit(engine: Engine, clock: FixedClock) -> None:
    cipher = FieldCipher([KEY_2025])
    _insert_party(engine, clock, cipher, "pty-1")
    with UnitOfWork(engine, clock, actor="wang.fang") as uow:
        view = PersonalData(uow, cipher).masked("pty-1")
        uow.commit()
    assert view.name == "张**"
    assert view.id_number == "110105********002X"
    assert view.phone == "138****8000"
    assert view.address == "浙江省杭州市***"
    assert view.bank_card == "***************3445"
    assert _audit_rows(engine) == []
    with UnitOfWork(engine, clock) as uow, pytest.raises(PartyNotFound):
        PersonalData(uow, cipher).masked("pty-404")


def test_unmasked_read_is_audited_in_the_same_transaction(
    engine: Engine, clock: FixedClock
) -> None:
    cipher = FieldCipher([KEY_2025])
    _insert_party(engine, clock, cipher, "pty-1")
    with UnitOfWork(engine, clock, actor="zhao.credit") as uow:
        shown = PersonalData(uow, cipher).unmasked(
            "pty-1",
            ["id_number", PiiField.PHONE],
            role=Role.CREDIT_OFFICER,
            reason="  identity check against bureau report  ",
        )
        uow.commit()
    assert shown == {PiiField.ID_NUMBER: ID_NUMBER, PiiField.PHONE: PHONE}
    (row,) = _audit_rows(engine)
    assert (row.actor, row.action, row.entity_type, row.entity_id) == (
        "zhao.credit",
        "pii.read",
        "party",
        "pty-1",
    )
    assert json.loads(row.detail) == {
        "fields": ["id_number", "phone"],
        "role": "credit-officer",
        "reason": "identity check against bureau report",
    }

    # Without a commit the audit row disappears with the transaction: same transaction.
    with UnitOfWork(engine, clock, actor="zhao.credit") as uow:
        PersonalData(uow, cipher).unmasked(
            "pty-1", ["phone"], role=Role.CREDIT_OFFICER, reason="call back"
        )
    assert len(_audit_rows(engine)) == 1


@pytest.mark.parametrize(
    ("role", "fields", "within_scope", "allowed"),
    [
        (Role.COLLECTOR, ["phone", "name"], False, True),
        (Role.COLLECTOR, ["id_number"], False, False),
        (Role.COLLECTOR, ["phone", "address"], False, False),
        (Role.AGENCY, ["phone"], False, False),
        (Role.AGENCY, ["phone"], True, True),
        (Role.AGENCY, ["bank_card"], True, False),
        (Role.RISK, ["phone"], False, False),
        (Role.ADMINISTRATOR, ["name"], False, False),
        (Role.SERVICING, ["bank_card"], False, True),
        (Role.COMPLIANCE, [f.value for f in PiiField], False, True),
        (Role.BORROWER, ["id_number"], False, False),
        (Role.BORROWER, ["id_number", "bank_card"], True, True),
    ],
)
def test_unmask_policy(
    engine: Engine,
    clock: FixedClock,
    role: Role,
    fields: list[str],
    within_scope: bool,
    allowed: bool,
) -> None:
    cipher = FieldCipher([KEY_2025])
    _insert_party(engine, clock, cipher, "pty-1")
    with UnitOfWork(engine, clock, actor="someone") as uow:
        pii = PersonalData(uow, cipher)
        if allowed:
            shown = pii.unmasked(
                "pty-1", fields, role=role, reason="case work", within_scope=within_scope
            )
            assert set(shown) == {PiiField(f) for f in fields}
        else:
            with pytest.raises(PiiAccessDenied):
                pii.unmasked(
                    "pty-1", fields, role=role, reason="case work", within_scope=within_scope
                )
        uow.commit()
    rows = _audit_rows(engine)
    assert len(rows) == (1 if allowed else 0)
    if allowed and UNMASK_POLICY[role].scoped:
        assert json.loads(rows[0].detail)["within_scope"] is True


def test_policy_covers_every_role_with_a_reason() -> None:
    assert set(UNMASK_POLICY) == set(Role)
    assert all(rule.why for rule in UNMASK_POLICY.values())
    assert may_unmask(Role.COMPLIANCE, PiiField.BANK_CARD, within_scope=False)
    assert not may_unmask(Role.AGENCY, PiiField.PHONE, within_scope=False)


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        (["phone"], "", "reason"),
        (["phone"], "   ", "reason"),
        (["phone"], "ok", "reason"),
        ([], "identity check", "fields"),
        (["gps"], "identity check", "fields"),
    ],
)
def test_unmasked_read_needs_a_reason_and_known_fields(
    engine: Engine, clock: FixedClock, fields: list[str], reason: str, field: str
) -> None:
    cipher = FieldCipher([KEY_2025])
    _insert_party(engine, clock, cipher, "pty-1")
    with UnitOfWork(engine, clock) as uow:
        with pytest.raises(InvalidInput) as caught:
            PersonalData(uow, cipher).unmasked("pty-1", fields, role=Role.COMPLIANCE, reason=reason)
        uow.commit()
    assert caught.value.errors[0].field == field
    assert _audit_rows(engine) == []


def test_lookup_and_rotation(engine: Engine, clock: FixedClock) -> None:
    old = FieldCipher([KEY_2024])
    _insert_party(engine, clock, old, "pty-1")
    during = FieldCipher([KEY_2025, KEY_2024])
    _insert_party(engine, clock, during, "pty-2")
    with UnitOfWork(engine, clock) as uow:
        pii = PersonalData(uow, during)
        assert pii.find_by_id_number(ID_NUMBER) == ("pty-1", "pty-2")
        assert pii.find_by_phone(PHONE) == ("pty-1", "pty-2")
        assert pii.find_by_id_number("110105194912310029") == ()
        assert pii.masked("pty-1").phone == "138****8000"
        # Rotate pty-1's blobs to the current key and re-key its hashes.
        row = uow.connection.execute(
            select(tables.parties).where(tables.parties.c.id == "pty-1")
        ).one()
        uow.connection.execute(
            tables.parties.update()
            .where(tables.parties.c.id == "pty-1")
            .values(
                id_number_enc=during.rotate(bytes(row.id_number_enc), "id_number"),
                phone_enc=during.rotate(bytes(row.phone_enc), "phone"),
                address_enc=during.rotate(bytes(row.address_enc), "address"),
                bank_card_enc=during.rotate(bytes(row.bank_card_enc), "bank_card"),
                id_number_hash=during.lookup_hash("id_number", ID_NUMBER),
                phone_hash=during.lookup_hash("phone", PHONE),
            )
        )
        uow.commit()
    after = FieldCipher([KEY_2025])
    with UnitOfWork(engine, clock) as uow:
        pii = PersonalData(uow, after)
        assert pii.find_by_id_number(ID_NUMBER) == ("pty-1", "pty-2")
        assert pii.masked("pty-1").bank_card == "***************3445"


# --- regions ------------------------------------------------------------------------------


def test_load_regions_on_the_migrated_schema(engine: Engine) -> None:
    inserts: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(*args: Any) -> None:
        statement, executemany = args[2], args[5]
        if statement.lstrip().upper().startswith("INSERT INTO REGIONS"):
            inserts.append(executemany)

    expected = len(load_divisions())
    with engine.begin() as connection:
        assert load_regions(connection) == expected
    with engine.begin() as connection:
        assert load_regions(connection) == 0
    assert inserts == [True]
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(tables.regions)).scalar()
        beijing = connection.execute(
            select(tables.regions).where(tables.regions.c.code == "110105")
        ).one()
    assert count == expected
    assert (beijing.name, beijing.parent_code, beijing.province_code) == (
        "朝阳区",
        "110000",
        "110000",
    )
    assert float(beijing.longitude) == pytest.approx(116.443205, abs=1e-6)
