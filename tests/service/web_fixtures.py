"""A small booked portfolio for the web tests (TestClient and browser): two borrowers with
their own phones in two provinces, a staff user per role used, and helpers to read forms."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tailguard.infra.auth import Role
from tailguard.infra.users import create_user
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

PASSWORD = "correct horse battery"
OWN_PHONE = "13800138001"
OTHER_PHONE = "13900139002"


@dataclass(frozen=True)
class Portfolio:
    own: str
    other: str


def book_portfolio(platform: Platform) -> Portfolio:
    with_dealer(platform)
    own_app = application(1, loan_id="OWN")
    own_app = replace(own_app, borrower=replace(own_app.borrower, phone=OWN_PHONE))
    other_app = application(2, loan_id="OTHER", borrower_region="310104")
    other_app = replace(other_app, region_code="310115",
                        borrower=replace(other_app.borrower, name="李四", phone=OTHER_PHONE))
    own = book_application(platform, "officer", own_app)
    other = book_application(platform, "officer", other_app)
    with platform.uow("test") as uow:
        for name, role in (("ops.wang", Role.SERVICING), ("risk.zhao", Role.RISK),
                           ("credit.qian", Role.CREDIT_OFFICER)):
            create_user(uow.connection, uow.clock, name, PASSWORD, role)
        uow.commit()
    return Portfolio(own, other)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


DEV_CODE = re.compile(r'id="dev-code">[^<]*?(\d{6})')


def dev_code_of(html: str) -> str:
    found = DEV_CODE.search(html)
    assert found, "development mode shows the sandbox's code"
    return found.group(1)
