"""Work queues: teams by region with capacity and skills, collectors, routing of cases to them,
assignment and reassignment, a collector's "who next", and the field team's day (visits
planned on a route OR-Tools optimises, outcomes with time, place and photos).

Routing (end of day): a case goes to a team of the kind its strategy step needs (phone for
reminders, calls and restructure offers; field for visits; legal for letters, legal action and
repossession) that covers the borrower's city, else province, else the whole country, with
room under its capacity; within the team, to the active collector with that skill and the
fewest open cases under their own capacity. A case placed with an agency stays with it.

"Who next" asks the conduct guard about each candidate call without committing (the decision
is computed in a transaction that is rolled back), so reading the queue never counts as a call:
the collector gets the highest-priority case the rules allow calling now, the reasons, and the
cases skipped with the rule that blocks them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import bulk, tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import (
    recovery_case_events,
    recovery_cases,
    recovery_collectors,
    recovery_promises,
    recovery_teams,
    recovery_visits,
)
from tailguard.infra.db.uow import to_json
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.recovery import cases as rules
from tailguard.recovery.routing import Stop, plan_route
from tailguard.recovery.scorecard import CollectorRecord, collector_score
from tailguard.recovery.vocabulary import Action
from tailguard.services import contacts
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import (
    add_event,
    case_loans,
    case_row,
    due_promises_for,
)

TEAM_KINDS = ("phone", "field", "legal")
KIND_OF_ACTION = {
    Action.REMINDER.value: "phone", Action.CALL.value: "phone",
    Action.RESTRUCTURE_OFFER.value: "phone", Action.FIELD_VISIT.value: "field",
    Action.LAWYER_LETTER.value: "legal", Action.LEGAL_ACTION.value: "legal",
    Action.REPOSSESSION.value: "legal",
}
NATIONAL = "000000"
"""A team whose region is this covers the whole country (head office)."""
NEXT_CANDIDATES = 20
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024
VISITS_PER_DAY = 12


def _skills(raw: Any, field: str) -> str:
    values = raw if isinstance(raw, list) else []
    allowed = {a.value for a in Action} | {"*"}
    if not values or any(v not in allowed for v in values):
        raise InvalidInput.one(field, "invalid", f"a list of: {', '.join(sorted(allowed))}")
    return ",".join(sorted(set(values)))


def save_team(platform: Platform, actor: str, team_id: str, name: str, region_code: str,
              kind: str, capacity: int, skills: list[str],
              base: tuple[Decimal, Decimal] | None = None) -> dict[str, Any]:
    """Create or change a team (idempotent by id)."""
    if kind not in TEAM_KINDS:
        raise InvalidInput.one("kind", "invalid", f"one of {', '.join(TEAM_KINDS)}")
    if capacity < 1:
        raise InvalidInput.one("capacity", "not_positive", "at least one case")
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise InvalidInput.one("region_code", "invalid", "a six-digit region code")
    if not team_id or len(team_id) > 40:
        raise InvalidInput.one("team_id", "invalid", "1 to 40 characters")
    values = {"name": name, "region_code": region_code, "kind": kind, "capacity": capacity,
              "skills": _skills(skills, "skills"),
              "base_latitude": None if base is None else base[0],
              "base_longitude": None if base is None else base[1]}
    with platform.uow(actor) as uow:
        conn = uow.connection
        exists = conn.execute(select(recovery_teams.c.id)
                              .where(recovery_teams.c.id == team_id)).first()
        if exists:
            conn.execute(update(recovery_teams).where(recovery_teams.c.id == team_id)
                         .values(**values))
        else:
            conn.execute(insert(recovery_teams).values(id=team_id, recorded_at=uow.clock.now(),
                                                       **values))
        uow.audit("recovery.team.save", "team", team_id, values)
        uow.commit()
    return {"team_id": team_id, **values}


def save_collector(platform: Platform, actor: str, username: str, team_id: str,
                   skills: list[str], capacity: int, active: bool = True) -> dict[str, Any]:
    if capacity < 1:
        raise InvalidInput.one("capacity", "not_positive", "at least one case")
    values = {"team_id": team_id, "skills": _skills(skills, "skills"), "capacity": capacity,
              "active": active}
    with platform.uow(actor) as uow:
        conn = uow.connection
        if conn.execute(select(recovery_teams.c.id)
                        .where(recovery_teams.c.id == team_id)).first() is None:
            raise InvalidInput.one("team_id", "unknown", f"no team {team_id}")
        c = recovery_collectors.c
        if conn.execute(select(c.username).where(c.username == username)).first():
            conn.execute(update(recovery_collectors).where(c.username == username)
                         .values(**values))
        else:
            conn.execute(insert(recovery_collectors).values(
                username=username, recorded_at=uow.clock.now(), **values))
        uow.audit("recovery.collector.save", "collector", username, values)
        uow.commit()
    return {"username": username, **values}


def list_teams(platform: Platform) -> list[dict[str, Any]]:
    c = recovery_cases.c
    with platform.engine.connect() as conn:
        load: dict[Any, Any] = dict(conn.execute(
            select(c.team_id, func.count()).where(c.status == "open")
            .group_by(c.team_id)).all())
        teams = [dict(r) for r in conn.execute(select(recovery_teams)
                                               .order_by(recovery_teams.c.id)).mappings()]
        collectors = [dict(r) for r in conn.execute(
            select(recovery_collectors).order_by(recovery_collectors.c.username)).mappings()]
    for team in teams:
        team["open_cases"] = int(load.get(team["id"], 0))
        team["collectors"] = [x for x in collectors if x["team_id"] == team["id"]]
    return teams


# -- routing at end of day ---------------------------------------------------------------------
@dataclass
class _Team:
    id: str
    region: str
    kind: str
    capacity: int
    load: int


@dataclass
class _Collector:
    username: str
    team_id: str
    skills: frozenset[str]
    capacity: int
    load: int


def _coverage(team_region: str, case_region: str | None) -> int:
    """3: same city, 2: same province, 1: national team, 0: does not cover."""
    if team_region == NATIONAL:
        return 1
    if not case_region:
        return 0
    if team_region.endswith("0000"):
        return 2 if case_region[:2] == team_region[:2] else 0
    return 3 if case_region[:4] == team_region[:4] else 0


def route_cases(conn: Connection, as_of: date, now: datetime) -> int:
    """Give open cases not placed with an agency a team (of the kind their step needs) and a
    collector; returns how many cases moved."""
    c = recovery_cases.c
    teams = [_Team(r.id, r.region_code, r.kind, r.capacity, 0)
             for r in conn.execute(select(recovery_teams).order_by(recovery_teams.c.id))]
    if not teams:
        return 0
    by_id = {t.id: t for t in teams}
    for team_id, n in conn.execute(select(c.team_id, func.count())
                                   .where(c.status == "open", c.team_id.is_not(None))
                                   .group_by(c.team_id)).all():
        if team_id in by_id:
            by_id[team_id].load = int(n)
    loads: dict[Any, Any] = dict(conn.execute(select(c.collector, func.count())
                              .where(c.status == "open", c.collector.is_not(None))
                              .group_by(c.collector)).all())
    collectors = [_Collector(r.username, r.team_id, frozenset(r.skills.split(",")), r.capacity,
                             int(loads.get(r.username, 0)))
                  for r in conn.execute(select(recovery_collectors)
                                        .where(recovery_collectors.c.active)
                                        .order_by(recovery_collectors.c.username))]
    rows = conn.execute(select(c.id, c.region_code, c.team_id, c.collector, c.action)
                        .where(c.status == "open", c.agency_id.is_(None))
                        .order_by(c.priority.desc(), c.id)).all()
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for case_id, region, team_id, collector, action in rows:
        kind = KIND_OF_ACTION.get(action or "", "phone")
        current = by_id.get(team_id or "")
        if current is not None and current.kind == kind and collector:
            continue
        team = current if current is not None and current.kind == kind else None
        if team is None:
            ranked = sorted((t for t in teams if t.kind == kind and t.load < t.capacity
                             and _coverage(t.region, region)),
                            key=lambda t: (-_coverage(t.region, region), t.load, t.id))
            if not ranked:
                continue
            team = ranked[0]
            team.load += 1
            if current is not None:
                current.load -= 1
        skill = action or Action.CALL.value
        people = sorted((p for p in collectors if p.team_id == team.id and p.load < p.capacity
                         and (skill in p.skills or "*" in p.skills)),
                        key=lambda p: (p.load, p.username))
        chosen = people[0].username if people else None
        if people:
            people[0].load += 1
        if team.id == team_id and chosen == collector:
            continue
        changes.append({"id": case_id, "team_id": team.id, "collector": chosen})
        events.append({"case_id": case_id, "kind": "assigned", "loan_id": None,
                       "on_date": as_of, "actor": "recovery-eod", "recorded_at": now,
                       "detail": to_json({"team_id": team.id, "collector": chosen,
                                          "from_team": team_id, "from_collector": collector,
                                          "why": f"step {action or 'none'} needs a {kind} team"
                                          })})
    bulk.update_rows(conn, "recovery_cases", ("id",),
                     {"id": "integer", "team_id": "varchar(40)", "collector": "varchar(64)"},
                     changes)
    if events:
        conn.execute(insert(recovery_case_events), events)
    return len(changes)


def assign_case(platform: Platform, actor: Actor, case_id: int, team_id: str,
                collector: str | None, reason: str | None = None) -> dict[str, Any]:
    """Assign or reassign a case by hand (a team lead's decision, with its reason)."""
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if row["status"] != "open":
            raise Refused("CASE_CLOSED", f"case {case_id} is closed")
        if conn.execute(select(recovery_teams.c.id)
                        .where(recovery_teams.c.id == team_id)).first() is None:
            raise InvalidInput.one("team_id", "unknown", f"no team {team_id}")
        if collector is not None:
            member = conn.execute(select(recovery_collectors.c.team_id,
                                         recovery_collectors.c.active)
                                  .where(recovery_collectors.c.username == collector)).first()
            if member is None or member.team_id != team_id or not member.active:
                raise InvalidInput.one("collector", "not_in_team",
                                       f"{collector} is not an active collector of {team_id}")
        conn.execute(update(recovery_cases).where(recovery_cases.c.id == case_id)
                     .values(team_id=team_id, collector=collector))
        detail = {"team_id": team_id, "collector": collector, "from_team": row["team_id"],
                  "from_collector": row["collector"], "reason": reason}
        add_event(conn, case_id, "reassigned" if row["team_id"] else "assigned",
                  platform.today(), actor.name, uow.clock.now(), detail)
        uow.audit("recovery.case.assign", "case", str(case_id), detail)
        uow.commit()
    return {"case_id": case_id, "team_id": team_id, "collector": collector}


# -- who to call next ------------------------------------------------------------------------
def next_case(platform: Platform, actor: Actor, at: datetime | None = None) -> dict[str, Any]:
    """The collector's next call: the highest-priority case of theirs (then their team's
    unassigned ones) that the contact policy allows calling now, why, and what was agreed."""
    c = recovery_cases.c
    skipped: list[dict[str, Any]] = []
    with platform.uow(actor.name) as uow:  # never committed: the policy checks are dry runs
        conn = uow.connection
        team_id = conn.execute(select(recovery_collectors.c.team_id).where(
            recovery_collectors.c.username == actor.name)).scalar_one_or_none()
        mine = c.collector == actor.name
        candidates = conn.execute(
            select(recovery_cases).where(c.status == "open", c.agency_id.is_(None), mine)
            .order_by(c.priority.desc(), c.id).limit(NEXT_CANDIDATES)).mappings().all()
        if team_id is not None and len(candidates) < NEXT_CANDIDATES:
            candidates = [*candidates, *conn.execute(
                select(recovery_cases).where(c.status == "open", c.agency_id.is_(None),
                                             c.team_id == team_id, c.collector.is_(None))
                .order_by(c.priority.desc(), c.id)
                .limit(NEXT_CANDIDATES - len(candidates))).mappings().all()]
        for row in candidates:
            loans = case_loans(conn, row["id"])
            if not loans:
                continue
            command = ContactCommand(Channel.CALL, Purpose.COLLECTION, Party.DEBTOR,
                                     loan_id=loans[0], at=at)
            with conn.begin_nested() as savepoint:
                result = contacts.decide_in(uow, platform, actor, command)
                savepoint.rollback()
            decision = result.decision.to_dict()
            if not result.decision.allowed:
                skipped.append({"case_id": row["id"], "reason": decision["reason"],
                                "rule": decision["rule"], "retry_at": decision["retry_at"]})
                continue
            return {
                "case": {k: row[k] for k in ("id", "borrower_id", "priority", "max_dpd",
                                             "overdue_fen", "action", "next_action",
                                             "next_action_on", "segment", "arm",
                                             "escalation", "team_id", "collector")},
                "loans": loans,
                "why": rules.why(int(row["max_dpd"]), int(row["overdue_fen"]),
                                 int(row["escalation"]), bool(row["broken_promise"]),
                                 row["action"] or ""),
                "contact_policy": decision,
                "promises": due_promises_for(conn, row["id"], platform.today()),
                "skipped": skipped,
            }
    return {"case": None, "why": "no case in your queue may be called now",
            "skipped": skipped}


# -- field visits ----------------------------------------------------------------------------
def _location(conn: Connection, region_code: str | None) -> tuple[float, float] | None:
    """The coordinates of the most precise known division of the case's region."""
    if not region_code:
        return None
    r = tables.regions.c
    for code in (region_code, region_code[:4] + "00", region_code[:2] + "0000"):
        row = conn.execute(select(r.latitude, r.longitude).where(r.code == code)).first()
        if row is not None and row.latitude is not None:
            return float(row.latitude), float(row.longitude)
    return None


def plan_field_day(platform: Platform, actor: str, team_id: str, day: date,
                   case_ids: list[int] | None = None,
                   locations: dict[int, tuple[float, float]] | None = None,
                   max_visits: int = VISITS_PER_DAY) -> dict[str, Any]:
    """Plan a field team's day: the cases to visit (given, or the team's open cases whose step
    is a field visit, highest priority first) in the order of the shortest route from the
    team's base. Replaces the day's plan while nothing of it is visited yet."""
    locations = locations or {}
    with platform.uow(actor) as uow:
        conn = uow.connection
        team = conn.execute(select(recovery_teams)
                            .where(recovery_teams.c.id == team_id)).mappings().first()
        if team is None:
            raise NotFound(f"team {team_id} does not exist")
        if team["kind"] != "field":
            raise InvalidInput.one("team_id", "not_field", "only field teams visit")
        if team["base_latitude"] is None:
            raise InvalidInput.one("team_id", "no_base", "the team has no base coordinates")
        v = recovery_visits.c
        if conn.execute(select(v.id).where(v.team_id == team_id, v.plan_date == day,
                                           v.status != "planned")).first():
            raise Refused("PLAN_STARTED", "visits of this day are already recorded")
        c = recovery_cases.c
        query = select(c.id, c.region_code).where(c.status == "open")
        if case_ids:
            query = query.where(c.id.in_(case_ids))
        else:
            query = (query.where(c.team_id == team_id, c.action == Action.FIELD_VISIT.value)
                     .order_by(c.priority.desc(), c.id).limit(max_visits))
        rows = conn.execute(query).all()
        if case_ids and len(rows) != len(set(case_ids)):
            missing = sorted(set(case_ids) - {r.id for r in rows})
            raise InvalidInput.one("case_ids", "unknown", f"no open case {missing}")
        stops: list[Stop] = []
        unplaced: list[int] = []
        for case_id, region in rows:
            where = locations.get(case_id) or _location(conn, region)
            if where is None:
                unplaced.append(case_id)
            else:
                stops.append(Stop(case_id, where[0], where[1]))
        base = Stop(0, float(team["base_latitude"]), float(team["base_longitude"]))
        route = plan_route(base, stops)
        conn.execute(delete(recovery_visits).where(v.team_id == team_id, v.plan_date == day))
        where_of = {s.key: s for s in stops}
        now = uow.clock.now()
        for sequence, case_id in enumerate(route.order, start=1):
            stop = where_of[case_id]
            conn.execute(insert(recovery_visits).values(
                case_id=case_id, team_id=team_id, plan_date=day, sequence=sequence,
                latitude=Decimal(str(round(stop.latitude, 6))),
                longitude=Decimal(str(round(stop.longitude, 6))), status="planned",
                actor=actor, recorded_at=now))
            add_event(conn, case_id, "visit-planned", day, actor, now,
                      {"team_id": team_id, "sequence": sequence})
        uow.audit("recovery.field.plan", "team", team_id,
                  {"day": day, "cases": list(route.order), "distance_m": route.distance_m})
        uow.commit()
    return {"team_id": team_id, "day": day.isoformat(), "route": list(route.order),
            "distance_m": route.distance_m, "without_location": unplaced,
            "visits": field_plan(platform, team_id, day)}


def field_plan(platform: Platform, team_id: str, day: date) -> list[dict[str, Any]]:
    v = recovery_visits.c
    with platform.engine.connect() as conn:
        rows = conn.execute(select(recovery_visits).where(v.team_id == team_id,
                                                          v.plan_date == day)
                            .order_by(v.sequence)).mappings().all()
    return [{**dict(r), "photos": json.loads(r["photos"]) if r["photos"] else []} for r in rows]


def record_visit(platform: Platform, actor: Actor, visit_id: int, *, found: bool,
                 outcome: str, visited_at: datetime, latitude: Decimal, longitude: Decimal,
                 place: str, photos: list[tuple[bytes, str]],
                 store: DocumentStore | None = None) -> dict[str, Any]:
    """A visit's outcome: when, where (coordinates and a description), what happened, and
    photos kept in the document store. The visit is a contact, decided by the conduct guard;
    one outside the rules is recorded as such for compliance, not hidden."""
    if visited_at.utcoffset() is None:
        raise InvalidInput.one("visited_at", "naive", "the visit time needs a time zone")
    if not outcome or len(outcome) > 200:
        raise InvalidInput.one("outcome", "invalid", "what happened, in at most 200 characters")
    if not place or len(place) > 200:
        raise InvalidInput.one("place", "invalid", "where, in at most 200 characters")
    if not (Decimal(-90) <= latitude <= Decimal(90)):
        raise InvalidInput.one("latitude", "out_of_range", "between -90 and 90")
    if not (Decimal(-180) <= longitude <= Decimal(180)):
        raise InvalidInput.one("longitude", "out_of_range", "between -180 and 180")
    for i, (data, content_type) in enumerate(photos):
        if content_type not in PHOTO_TYPES:
            raise InvalidInput.one(f"photos[{i}]", "type", "JPEG, PNG or WebP")
        if not data or len(data) > PHOTO_MAX_BYTES:
            raise InvalidInput.one(f"photos[{i}]", "size", "between 1 byte and 10 MB")
    store = store or document_store_from_settings(platform.settings)
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        visit = conn.execute(select(recovery_visits).where(recovery_visits.c.id == visit_id)
                             ).mappings().first()
        if visit is None:
            raise NotFound(f"visit {visit_id} does not exist")
        row = case_row(conn, visit["case_id"], actor)
        if visit["status"] != "planned":
            raise Refused("VISIT_RECORDED", f"visit {visit_id} is already recorded")
        loans = case_loans(conn, row["id"])
        result = contacts.decide_in(
            uow, platform, actor,
            ContactCommand(Channel.FIELD_VISIT, Purpose.COLLECTION, Party.DEBTOR,
                           loan_id=loans[0] if loans else None,
                           borrower_id=None if loans else row["borrower_id"], at=visited_at),
            Outcome.VISITED, outcome[:200])
        keys = []
        for i, (data, content_type) in enumerate(photos):
            digest = hashlib.sha256(data).hexdigest()[:16]
            key = f"recovery/visits/{visit_id}/photo-{i + 1}-{digest}.{PHOTO_TYPES[content_type]}"
            store.put(key, data, content_type)
            keys.append(key)
        conn.execute(update(recovery_visits).where(recovery_visits.c.id == visit_id).values(
            status="visited" if found else "not-found", outcome=outcome, visited_at=visited_at,
            visited_latitude=latitude, visited_longitude=longitude, place=place,
            photos=json.dumps(keys), contact_id=result.contact_id))
        detail = {"visit_id": visit_id, "found": found, "outcome": outcome, "place": place,
                  "photos": keys, "contact_id": result.contact_id,
                  "decision": "allow" if result.decision.allowed else "block",
                  "reason": result.decision.reason.value}
        kind = "visit" if result.decision.allowed else "visit-outside-rules"
        add_event(conn, row["id"], kind, platform.today(), actor.name, uow.clock.now(), detail)
        uow.audit("recovery.field.visit", "case", str(row["id"]), detail)
        uow.commit()
    return detail


def collector_scores(platform: Platform) -> list[dict[str, Any]]:
    """Every collector's (and agency user's) scorecard: promises, case outcomes, conduct."""
    p, c, log = recovery_promises.c, recovery_cases.c, contact_log.c

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    with platform.engine.connect() as conn:
        promises = {a: (int(k), int(b)) for a, k, b in conn.execute(
            select(p.actor, count(p.status == "kept"), count(p.status == "broken"))
            .group_by(p.actor)).all()}
        cases = {a: (int(r), int(n)) for a, r, n in conn.execute(
            select(c.collector, count(c.close_reason.in_(("cure", "settlement"))),
                   count(c.status == "closed"))
            .where(c.collector.is_not(None)).group_by(c.collector)).all()}
        conduct = {a: (int(b), int(n)) for a, b, n in conn.execute(
            select(log.actor, count(log.decision == "block"), func.count())
            .where(log.actor_role.in_(("collector", "team-lead", "agency")))
            .group_by(log.actor)).all()}
    out = []
    for name in sorted(set(promises) | set(cases) | set(conduct)):
        record = CollectorRecord(name, *promises.get(name, (0, 0)), *cases.get(name, (0, 0)),
                                 *conduct.get(name, (0, 0)))
        out.append({**record.__dict__, "score": collector_score(record)})
    return out
