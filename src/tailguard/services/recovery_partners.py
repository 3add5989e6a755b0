"""Partners (collection agencies, repossession and law firms): the registry, placing cases with
them by region and score, and recalling cases.

The score and the eligibility rules are in `recovery/partners.py` (documented there): an agency
overdue for its yearly assessment receives no case. A placed case is visible to the agency's
users, and only while it is placed (the case's `agency_id`); recalling it hides it again.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tailguard.errors import FieldError, InvalidInput, NotFound, Refused
from tailguard.infra.db.tables_recovery import (
    recovery_cases,
    recovery_partners,
    recovery_placements,
)
from tailguard.recovery import partners as rules
from tailguard.recovery.vocabulary import PartnerKind
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import add_event, case_row

CODE_LISTS = ("provinces", "cities")


def _decimal(errors: list[FieldError], data: dict[str, Any], key: str, low: Decimal,
             high: Decimal) -> Decimal:
    try:
        value = Decimal(str(data.get(key, "0")))
    except InvalidOperation:
        value = low - 1
    if not value.is_finite():  # "NaN" and "Infinity" parse, and NaN cannot be compared
        value = low - 1
    if not low <= value <= high:
        errors.append(FieldError(key, "out_of_range", f"a number from {low} to {high}"))
        return low
    return value


def save_partner(platform: Platform, actor: str, data: dict[str, Any]) -> dict[str, Any]:
    """Register or update a partner, every wrong field named."""
    errors: list[FieldError] = []
    partner_id = data.get("id")
    if not isinstance(partner_id, str) or not 0 < len(partner_id) <= 40:
        errors.append(FieldError("id", "invalid", "1 to 40 characters"))
    name = data.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 120:
        errors.append(FieldError("name", "invalid", "1 to 120 characters"))
    kind = data.get("kind")
    if kind not in {k.value for k in PartnerKind}:
        errors.append(FieldError("kind", "invalid",
                                 f"one of {', '.join(k.value for k in PartnerKind)}"))
    lists: dict[str, str] = {}
    for key in CODE_LISTS:
        codes = data.get(key, [])
        if not isinstance(codes, list) or any(
                not isinstance(x, str) or len(x) != 6 or not x.isdigit() for x in codes):
            errors.append(FieldError(key, "invalid", "a list of six-digit region codes"))
            codes = []
        lists[key] = ",".join(sorted(set(codes)))
    capabilities = data.get("capabilities", [])
    if not isinstance(capabilities, list) or any(
            not isinstance(x, str) or not 0 < len(x) <= 30 for x in capabilities):
        errors.append(FieldError("capabilities", "invalid", "a list of short names"))
        capabilities = []
    complaints = data.get("complaints", 0)
    cases_handled = data.get("cases_handled", 0)
    capacity = data.get("capacity", 0)
    for key, value in (("complaints", complaints), ("cases_handled", cases_handled),
                       ("capacity", capacity)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(FieldError(key, "invalid", "a whole number, 0 or more"))
    assessed = data.get("last_assessed_on")
    if assessed is not None and not isinstance(assessed, date):
        try:
            assessed = date.fromisoformat(str(assessed))
        except ValueError:
            errors.append(FieldError("last_assessed_on", "invalid", "a date, YYYY-MM-DD"))
            assessed = None
    values: dict[str, Any] = {
        "rating": _decimal(errors, data, "rating", Decimal(0), Decimal(5)),
        "recovery_rate": _decimal(errors, data, "recovery_rate", Decimal(0), Decimal(1)),
        "cost_rate": _decimal(errors, data, "cost_rate", Decimal(0), Decimal(1)),
    }
    if errors:
        raise InvalidInput(errors)
    values |= {"name": name, "kind": kind, "capabilities": ",".join(sorted(set(capabilities))),
               "complaints": complaints, "cases_handled": cases_handled,
               "capacity": capacity, "last_assessed_on": assessed,
               "active": bool(data.get("active", True)), **lists}
    with platform.uow(actor) as uow:
        conn = uow.connection
        p = recovery_partners.c
        if conn.execute(select(p.id).where(p.id == partner_id)).first():
            conn.execute(update(recovery_partners).where(p.id == partner_id).values(**values))
        else:
            conn.execute(insert(recovery_partners).values(id=partner_id,
                                                          recorded_at=uow.clock.now(), **values))
        uow.audit("recovery.partner.save", "partner", str(partner_id), values)
        uow.commit()
    return describe(platform, str(partner_id))


def _split(text: str | None) -> frozenset[str]:
    return frozenset(x for x in (text or "").split(",") if x)


def _partner(row: Any, open_cases: int) -> rules.Partner:
    split = _split
    return rules.Partner(row["id"], row["kind"], split(row["provinces"]), split(row["cities"]),
                         split(row["capabilities"]), Decimal(row["rating"]), row["complaints"],
                         row["cases_handled"], Decimal(row["recovery_rate"]),
                         Decimal(row["cost_rate"]), row["last_assessed_on"], row["active"],
                         row["capacity"], open_cases)


def _partners(conn: Connection) -> list[rules.Partner]:
    c = recovery_cases.c
    load: dict[Any, Any] = dict(conn.execute(select(c.agency_id, func.count())
                             .where(c.status == "open", c.agency_id.is_not(None))
                             .group_by(c.agency_id)).all())
    return [_partner(r, int(load.get(r["id"], 0))) for r in conn.execute(
        select(recovery_partners).order_by(recovery_partners.c.id)).mappings()]


def _view(p: rules.Partner, today: date) -> dict[str, Any]:
    out = asdict(p)
    for key in ("provinces", "cities", "capabilities"):
        out[key] = sorted(out[key])
    out |= {"score": str(rules.score(p)), "assessment_overdue": rules.assessment_overdue(
        p, today), "eligible": rules.eligible(p, today)}
    for key in ("rating", "recovery_rate", "cost_rate"):
        out[key] = str(out[key])
    return out


def list_partners(platform: Platform) -> list[dict[str, Any]]:
    with platform.engine.connect() as conn:
        return [_view(p, platform.today()) for p in _partners(conn)]


def describe(platform: Platform, partner_id: str) -> dict[str, Any]:
    for view in list_partners(platform):
        if view["id"] == partner_id:
            return view
    raise NotFound(f"partner {partner_id} does not exist")


def overdue_assessments(platform: Platform) -> list[str]:
    """Active partners whose yearly assessment is missing or older than a year."""
    return [v["id"] for v in list_partners(platform)
            if v["active"] and v["assessment_overdue"]]


def _place(conn: Connection, case_id: int, partner_id: str, today: date, actor: str,
           now: Any, why: str) -> None:
    conn.execute(insert(recovery_placements).values(
        case_id=case_id, partner_id=partner_id, placed_on=today, actor=actor, recorded_at=now))
    conn.execute(update(recovery_cases).where(recovery_cases.c.id == case_id)
                 .values(agency_id=partner_id, collector=None))
    add_event(conn, case_id, "placed", today, actor, now, {"partner_id": partner_id,
                                                           "why": why})


def place_case(platform: Platform, actor: Actor, case_id: int,
               partner_id: str | None = None) -> dict[str, Any]:
    """Place a case with a partner: the one named (if eligible and covering the region), or
    the best-scoring eligible agency covering it."""
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if row["status"] != "open":
            raise Refused("CASE_CLOSED", f"case {case_id} is closed")
        if row["agency_id"]:
            raise Refused("ALREADY_PLACED", f"case {case_id} is with {row['agency_id']}")
        partners = _partners(conn)
        target = rules.CaseToPlace(case_id, row["region_code"])
        if partner_id is not None:
            chosen = next((p for p in partners if p.id == partner_id), None)
            if chosen is None:
                raise InvalidInput.one("partner_id", "unknown", f"no partner {partner_id}")
            if not rules.eligible(chosen, today):
                raise Refused("PARTNER_NOT_ELIGIBLE",
                              f"{partner_id} is inactive or overdue for its yearly assessment")
            if not rules.covers(chosen, row["region_code"]):
                raise Refused("PARTNER_NOT_COVERING",
                              f"{partner_id} does not cover region {row['region_code']}")
            placed = {case_id: chosen.id}
            why = "named by the team lead"
        else:
            placed = rules.allocate([target], partners, PartnerKind.AGENCY.value, today)
            why = "best-scoring eligible agency covering the region"
        if case_id not in placed:
            raise Refused("NO_PARTNER", "no eligible agency covers this case's region")
        _place(conn, case_id, placed[case_id], today, actor.name, uow.clock.now(), why)
        uow.audit("recovery.case.place", "case", str(case_id), {"partner_id": placed[case_id]})
        uow.commit()
    return {"case_id": case_id, "partner_id": placed[case_id], "why": why}


def recall_case(platform: Platform, actor: Actor, case_id: int, reason: str) -> dict[str, Any]:
    """Take a case back from its partner (end of mandate, conduct, performance)."""
    if not reason or len(reason) > 200:
        raise InvalidInput.one("reason", "invalid", "say why, in at most 200 characters")
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if not row["agency_id"]:
            raise Refused("NOT_PLACED", f"case {case_id} is not placed with a partner")
        conn.execute(update(recovery_placements).where(
            recovery_placements.c.case_id == case_id,
            recovery_placements.c.recalled_on.is_(None)).values(recalled_on=today,
                                                               recall_reason=reason))
        conn.execute(update(recovery_cases).where(recovery_cases.c.id == case_id)
                     .values(agency_id=None))
        add_event(conn, case_id, "recalled", today, actor.name, uow.clock.now(),
                  {"partner_id": row["agency_id"], "reason": reason})
        uow.audit("recovery.case.recall", "case", str(case_id),
                  {"partner_id": row["agency_id"], "reason": reason})
        uow.commit()
    return {"case_id": case_id, "recalled_from": row["agency_id"]}
