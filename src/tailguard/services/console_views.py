"""Read models for the console's work screens that the domain services did not need before:
the list of applications, what an engine decision was built on (score and third-party
answers), a partner's placements, open alerts by severity and queue, and the model
monitoring read-out.

Reads only (no unit of work, nothing written); every list is one query, bounded by a limit.
The writes behind these screens stay in their services (origination, recovery_*, alerts).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from tailguard.engagement.vocabulary import Channel, Party, Purpose
from tailguard.infra.db import tables_origination as t
from tailguard.infra.db.tables_monitoring import alerts
from tailguard.infra.db.tables_recovery import (
    recovery_cases,
    recovery_partners,
    recovery_placements,
)
from tailguard.monitoring.lifecycle import AlertStatus
from tailguard.services import contacts
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import case_loans, case_row

APPLICATION_STATUSES = ("submitted", "approve", "refer", "decline")
SEVERITIES = ("critical", "high", "medium", "low")
MONITORING_SAMPLE_MAX = 50_000
"""At most this many of the latest scored decisions make the monitoring sample."""


# -- applications -----------------------------------------------------------------------------
def list_applications(conn: Connection, status: str = "", limit: int = 50,
                      offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Applications, newest first, with their latest decision's outcome and kind (no
    personal data: the list shows ids, dealer, product, amount and status)."""
    a, d = t.applications.c, t.credit_decisions.c
    where = [a.status == status] if status else []
    total = int(conn.execute(select(func.count()).select_from(t.applications)
                             .where(*where)).scalar_one())
    latest = (select(d.application_id, func.max(d.number).label("number"))
              .group_by(d.application_id).subquery())
    rows = conn.execute(
        select(a.id, a.status, a.dealer_id, a.product_code, a.application_date,
               a.principal_fen, a.submitted_by, d.kind, d.model_version, d.id.label("decision_id"))
        .select_from(t.applications.outerjoin(latest, latest.c.application_id == a.id)
                     .outerjoin(t.credit_decisions, (d.application_id == a.id)
                                & (d.number == latest.c.number)))
        .where(*where).order_by(a.recorded_at.desc(), a.id.desc()).limit(limit).offset(offset)
    ).mappings().all()
    return total, [dict(r) for r in rows]


def decision_basis(conn: Connection, application_id: str) -> dict[str, Any] | None:
    """What the latest engine decision of the application read: the score (with the model's
    top reason codes and the feature values it saw) and each party's third-party answers
    (bureau, identity, courts, bank card, income). None before the first engine decision.
    The stored inputs carry no identifiers (origination.decision.PartyFacts)."""
    d = t.credit_decisions.c
    row = conn.execute(select(d.id, d.inputs).where(d.application_id == application_id,
                                                    d.kind == "engine", d.inputs.is_not(None))
                       .order_by(d.number.desc()).limit(1)).first()
    if row is None:
        return None
    inputs = json.loads(row.inputs)
    parties = []
    for party in inputs.get("parties", []):
        checks = {key: party.get(key) for key in ("bureau", "identity", "courts", "card",
                                                  "income")}
        parties.append({"role": party.get("role"), "checks": checks,
                        "facts": {k: v for k, v in party.items() if k not in checks}})
    return {"decision_id": row.id, "score": inputs.get("score"), "parties": parties,
            "regional_rate": inputs.get("regional_rate"),
            "cross_province": inputs.get("cross_province"),
            "max_distance_km": inputs.get("max_distance_km")}


# -- partners ---------------------------------------------------------------------------------
def partner_placements(conn: Connection, partner_id: str, limit: int = 200
                       ) -> list[dict[str, Any]]:
    """The partner's placements, latest first, with the case's state today."""
    p, c = recovery_placements.c, recovery_cases.c
    rows = conn.execute(
        select(p.case_id, p.placed_on, p.recalled_on, p.recall_reason, p.actor, c.status,
               c.region_code, c.max_dpd, c.overdue_fen, c.close_reason)
        .select_from(recovery_placements.join(recovery_cases, c.id == p.case_id))
        .where(p.partner_id == partner_id).order_by(p.placed_on.desc(), p.id.desc())
        .limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def partner_names(conn: Connection) -> dict[str, str]:
    """Partner id → name (the registry's rules view carries no names)."""
    p = recovery_partners.c
    return {str(i): str(n) for i, n in conn.execute(select(p.id, p.name)).all()}


# -- alerts -----------------------------------------------------------------------------------
def open_alerts(conn: Connection) -> dict[str, Any]:
    """Alerts not closed, by severity and queue (one GROUP BY), for the dashboard's panel."""
    c = alerts.c
    rows = conn.execute(select(c.severity, c.queue, func.count())
                        .where(c.status != AlertStatus.CLOSED.value)
                        .group_by(c.severity, c.queue)).all()
    cells = {(str(s), str(q)): int(n) for s, q, n in rows}
    queues = sorted({q for _, q in cells})
    severities = [s for s in SEVERITIES if any(k[0] == s for k in cells)]
    severities += sorted({s for s, _ in cells} - set(severities))
    return {"cells": cells, "queues": queues, "severities": severities,
            "by_severity": {s: sum(n for (x, _), n in cells.items() if x == s)
                            for s in severities},
            "total": sum(cells.values())}


# -- model monitoring -------------------------------------------------------------------------
def model_monitoring(platform: Platform) -> dict[str, Any]:
    """The application model's monitoring: its manifest (version, training summary and the
    metrics measured when it was trained: AUC, KS …) and `risk.monitoring.monitoring_report`
    on the features of the applications it scored (PSI of the score and of each variable).
    Live AUC and KS need outcomes linked to applications, which the platform does not record
    yet; the screen says so rather than inventing them.

    `{"registered": False}` when no model directory is configured or it holds no model."""
    directory = platform.settings.application_model
    if not directory or not (Path(directory) / "manifest.json").is_file():
        return {"registered": False, "directory": directory}
    import pandas as pd

    from tailguard.origination.decision import DecisionInput
    from tailguard.origination.scoring import application_features
    from tailguard.risk.monitoring import monitoring_report
    from tailguard.risk.registry import load_model

    registered = load_model(Path(directory))
    manifest = registered.manifest
    version = str(manifest.get("version"))
    d = t.credit_decisions.c
    with platform.engine.connect() as conn:
        rows = conn.execute(select(d.inputs).where(d.kind == "engine",
                                                   d.model_version == version,
                                                   d.inputs.is_not(None))
                            .order_by(d.recorded_at.desc()).limit(MONITORING_SAMPLE_MAX)
                            ).scalars().all()
    features = [application_features(DecisionInput.from_json(json.loads(r))) for r in rows]
    report = None
    if features:
        model = registered.model
        frame = pd.DataFrame(features)
        report = monitoring_report(model, registered.reference, model.prepare(frame))
    return {"registered": True, "directory": directory, "version": version,
            "created": manifest.get("created"), "training": manifest.get("training", {}),
            "metrics": manifest.get("metrics", {}), "sample": len(features),
            "report": report}


# -- the contact policy's answer before a contact ---------------------------------------------
def preview_contact(platform: Platform, actor: Actor, case_id: int, channel: Channel,
                    party: Party = Party.DEBTOR, party_ref: str | None = None,
                    at: datetime | None = None) -> dict[str, Any]:
    """What the contact policy would answer to this contact about the case now, without
    making or logging it: the conduct guard's own decision (`contacts.decide_in`) inside a
    savepoint that is rolled back, in a unit of work that is never committed (the same dry
    run as `recovery_work.next_case`). Debtor and guarantor are asked about the debt; anyone
    else only where to reach the debtor."""
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor)
        loans = case_loans(conn, case_id)
        purpose = Purpose.COLLECTION if party.is_obligor else Purpose.LOCATION
        command = ContactCommand(channel, purpose, party, party_ref=party_ref,
                                 loan_id=loans[0] if loans else None,
                                 borrower_id=None if loans else row["borrower_id"], at=at)
        with conn.begin_nested() as savepoint:
            result = contacts.decide_in(uow, platform, actor, command)
            savepoint.rollback()
    return result.decision.to_dict() | {"channel": channel.value, "party": party.value,
                                        "purpose": purpose.value}
