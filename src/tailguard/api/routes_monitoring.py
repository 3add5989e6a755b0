"""Monitoring over HTTP: signals in, alerts out, and the early-warning rules.

- `POST /signals`: one signal, or `{"signals": [...]}` (up to 5,000); evaluated at once, the
  answer lists the alerts raised. A malformed signal refuses the batch, naming the field
  (`signals[3].attributes.hours`); unknown loans and telematics without consent are rejected
  one by one.
- `POST /signals/statements`: a bank statement (CSV or Excel) to match and ingest.
- `POST /loans/{id}/gps-consent`: record or revoke the borrower's consent to tracking.
- `GET /alerts`, `POST /alerts/{id}/acknowledge|work|close`: the queues.
- `GET /alert-rules`, `PUT /alert-rules`: the rules in force; replacing them is the risk
  team's (a new version each time).
- `GET /balloon-watch`: loans whose balloon falls due within 120 days, ranked.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, File, Path, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from tailguard.api.deps import PlatformDep, allow
from tailguard.errors import InvalidInput
from tailguard.infra.auth import Role, TokenClaims
from tailguard.monitoring.lifecycle import AlertAction, AlertStatus, Resolution
from tailguard.services import alerts as alert_service
from tailguard.services import signals as signal_service

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # an id the database can hold

router = APIRouter(prefix="/api/v1")

PRODUCERS = (Role.SERVICING, Role.RISK, Role.COLLECTOR, Role.TEAM_LEAD, Role.ADMINISTRATOR)
WORKERS = (Role.RISK, Role.SERVICING, Role.COLLECTOR, Role.TEAM_LEAD)
READERS = (*WORKERS, Role.COMPLIANCE, Role.ADMINISTRATOR)
MAX_UPLOAD = 20 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertActionIn(_Strict):
    note: Annotated[str, Field(max_length=500)] | None = None
    assignee: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class AlertCloseIn(_Strict):
    resolution: Resolution
    note: Annotated[str, Field(max_length=500)] | None = None


class RulesIn(_Strict):
    format: Literal["json", "yaml"] = "json"
    definition: str | dict[str, Any] | list[Any]
    """YAML or JSON text as written, or the rules as a JSON object."""
    note: Annotated[str, Field(max_length=200)] | None = None
    expected_version: Annotated[int, Field(ge=0)] | None = None


class ConsentIn(_Strict):
    granted: bool
    evidence: Annotated[str, Field(min_length=1, max_length=200)] | None = None


@router.post("/signals", status_code=status.HTTP_201_CREATED, tags=["monitoring"])
def post_signals(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(*PRODUCERS))],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Ingest signals and evaluate the early-warning rules on them at once."""
    batch = body.get("signals") if "signals" in body else [body]
    if not isinstance(batch, list):
        raise InvalidInput.one("signals", "invalid", "a list of signals")
    if "signals" in body and len(body) != 1:
        raise InvalidInput.one(sorted(set(body) - {"signals"})[0], "unknown",
                               "a batch is {\"signals\": [...]} alone")
    return signal_service.ingest(platform, user.subject, batch, source="api").to_dict()


@router.post("/signals/statements", status_code=status.HTTP_201_CREATED, tags=["monitoring"])
async def post_statement(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(Role.SERVICING))],
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    """Import a bank statement export (CSV or .xlsx): lines are matched to loans by the loan id
    in the reference, else by an amount equal to one loan's open instalment."""
    if file is None:
        raise InvalidInput.one("file", "required", "upload the statement as `file`")
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise InvalidInput.one("file", "too_large", "at most 20 MB")
    return signal_service.import_statement(platform, user.subject, content,
                                           file.filename or "statement.csv")


@router.post("/loans/{loan_id}/gps-consent", tags=["monitoring"])
def gps_consent(
    loan_id: str, body: ConsentIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.CREDIT_OFFICER))],
) -> dict[str, Any]:
    """Record the borrower's separate consent to vehicle tracking (or its withdrawal)."""
    return signal_service.record_gps_consent(platform, user.subject, loan_id,
                                             granted=body.granted, evidence=body.evidence)


@router.get("/alerts", tags=["monitoring"])
def get_alerts(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(*READERS))],
    queue: Annotated[str | None, Query(max_length=40)] = None,
    alert_status: Annotated[list[AlertStatus] | None, Query(alias="status")] = None,
    loan_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """A queue's alerts, most severe and then oldest first; `status` may repeat."""
    return {"alerts": alert_service.list_alerts(
        platform, queue=queue, status=tuple(alert_status) if alert_status else None,
        loan_id=loan_id, limit=limit),
        "queues": alert_service.queue_summary(platform)}


@router.post("/alerts/{alert_id}/acknowledge", tags=["monitoring"])
def acknowledge_alert(
    alert_id: AlertId, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*WORKERS))],
    body: AlertActionIn | None = None,
) -> dict[str, Any]:
    return alert_service.act(platform, user.subject, alert_id, AlertAction.ACKNOWLEDGE,
                             note=body.note if body else None)


@router.post("/alerts/{alert_id}/work", tags=["monitoring"])
def work_alert(
    alert_id: AlertId, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*WORKERS))],
    body: AlertActionIn | None = None,
) -> dict[str, Any]:
    return alert_service.act(platform, user.subject, alert_id, AlertAction.WORK,
                             note=body.note if body else None,
                             assignee=body.assignee if body else None)


@router.post("/alerts/{alert_id}/close", tags=["monitoring"])
def close_alert(
    alert_id: AlertId, body: AlertCloseIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*WORKERS))],
) -> dict[str, Any]:
    return alert_service.act(platform, user.subject, alert_id, AlertAction.CLOSE,
                             resolution=body.resolution, note=body.note)


@router.get("/alert-rules", tags=["monitoring"])
def get_rules(
    platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.RISK, Role.COMPLIANCE, Role.ADMINISTRATOR,
                                               Role.TEAM_LEAD))],
) -> dict[str, Any]:
    return alert_service.read_rules(platform)


@router.put("/alert-rules", tags=["monitoring"])
def put_rules(
    body: RulesIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.RISK))],
) -> dict[str, Any]:
    """Replace the early-warning rules with a new version (checked first, field by field)."""
    return alert_service.replace_rules(platform, user.subject, body.definition,
                                       fmt=body.format, note=body.note,
                                       expected_version=body.expected_version)


@router.get("/balloon-watch", tags=["monitoring"])
def get_balloon_watch(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(*READERS))],
    stage: Annotated[Literal[120, 90, 60, 30] | None, Query()] = None,
    as_of: date | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Loans whose balloon falls due within 120 days, most likely not to be settled first."""
    return {"as_of": (as_of or platform.today()).isoformat(),
            "loans": alert_service.balloon_watch(platform, as_of, stage=stage, limit=limit)}
