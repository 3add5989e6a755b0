"""Contacts and messages over HTTP: the conduct guard for collectors and agencies, the contact
log, and notifications.

- `POST /contacts/check`: decide a contact about to be made; logged (pending if allowed).
- `POST /contacts`: record a contact's outcome: of a checked one (`contact_id`), or of one
  decided and recorded in one step (a manual call entered right after it).
- `GET /loans/{id}/contacts`: the borrower's contact log, every actor; an agency user sees
  only its own agency's contacts.
- `POST /loans/{id}/messages`: queue a notification from a template (sent by the dispatcher
  after the contact policy allows it); `GET /loans/{id}/messages`: their delivery state.

Agency users act under their agency id (from their token), so the caps count their contacts
with everyone else's. Restricting agencies to the cases placed with them waits for the
collections context (issue 8): no placement exists yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from tailguard.api.deps import STAFF_READ, PlatformDep, allow
from tailguard.engagement.templates import LANGUAGES
from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.auth import Role, TokenClaims
from tailguard.services import contacts, notifications
from tailguard.services.contacts import Actor, ContactCommand

router = APIRouter(prefix="/api/v1")

CONTACTORS = (Role.COLLECTOR, Role.TEAM_LEAD, Role.AGENCY, Role.SERVICING)
LOG_READERS = (Role.COLLECTOR, Role.TEAM_LEAD, Role.AGENCY, Role.SERVICING, Role.COMPLIANCE,
               Role.RISK, Role.ADMINISTRATOR)
SENDERS = (Role.SERVICING, Role.COLLECTOR, Role.TEAM_LEAD)
Ref = Annotated[str, Field(min_length=1, max_length=80)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Strict):
    loan_id: Ref
    channel: Channel
    purpose: Purpose
    party: Party = Party.DEBTOR
    party_ref: Ref | None = None
    contact_method: Ref | None = None
    automated: bool = False
    at: datetime | None = None
    """When the contact happens (with its offset); now if omitted."""

    def command(self) -> ContactCommand:
        return ContactCommand(self.channel, self.purpose, self.party, loan_id=self.loan_id,
                              party_ref=self.party_ref, contact_method=self.contact_method,
                              automated=self.automated, at=self.at)


class ContactRecordIn(_Strict):
    outcome: Outcome
    contact_id: Annotated[int, Field(ge=1)] | None = None
    loan_id: Ref | None = None
    channel: Channel | None = None
    purpose: Purpose | None = None
    party: Party = Party.DEBTOR
    party_ref: Ref | None = None
    contact_method: Ref | None = None
    at: datetime | None = None
    note: Annotated[str, Field(max_length=200)] | None = None


class MessageIn(_Strict):
    template: Literal["due-reminder", "overdue-notice", "balloon-approaching"]
    channel: Literal["sms", "email", "wechat", "in-app"]
    language: Literal["zh", "en"] | None = None


def _actor(user: TokenClaims) -> Actor:
    return Actor(user.subject, user.role.value, user.agency_id)


@router.post("/contacts/check", tags=["contacts"])
def check_contact(
    body: ContactIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*CONTACTORS))],
) -> dict[str, Any]:
    """Allow or block a contact under the loan's jurisdiction profile; the decision is logged
    with its reason code, rule and citation."""
    return contacts.check_contact(platform, _actor(user), body.command()).to_dict()


@router.post("/contacts", status_code=status.HTTP_201_CREATED, tags=["contacts"])
def record_contact(
    body: ContactRecordIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*CONTACTORS))],
) -> dict[str, Any]:
    actor = _actor(user)
    if body.contact_id is not None:
        return contacts.record_outcome(platform, actor, body.contact_id, body.outcome,
                                       body.note)
    missing = [name for name in ("loan_id", "channel", "purpose")
               if getattr(body, name) is None]
    if missing:
        raise InvalidInput.one(missing[0], "required",
                               "give contact_id, or loan_id, channel and purpose")
    assert body.channel is not None and body.purpose is not None
    command = ContactCommand(body.channel, body.purpose, body.party, loan_id=body.loan_id,
                             party_ref=body.party_ref, contact_method=body.contact_method,
                             at=body.at)
    return contacts.record_contact(platform, actor, command, body.outcome, body.note).to_dict()


@router.get("/loans/{loan_id}/contacts", tags=["contacts"])
def loan_contacts(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*LOG_READERS))],
) -> dict[str, Any]:
    """The contact log of the loan's borrower (all their loans), newest first."""
    borrower = contacts.borrower_of_loan(platform, loan_id)
    agency = user.agency_id if user.role is Role.AGENCY else None
    if user.role is Role.AGENCY and agency is None:
        return {"borrower_id": borrower, "contacts": []}
    return {"borrower_id": borrower,
            "contacts": contacts.contacts_of(platform, borrower, agency_id=agency)}


@router.post("/loans/{loan_id}/messages", status_code=status.HTTP_201_CREATED,
             tags=["messages"])
def send_message(
    loan_id: str, body: MessageIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*SENDERS))],
) -> dict[str, Any]:
    """Queue a notification; the dispatcher sends it once the contact policy allows it."""
    assert body.language is None or body.language in LANGUAGES
    message_id = notifications.queue_message(platform, _actor(user), loan_id, body.template,
                                             Channel(body.channel), language=body.language)
    return {"message_id": message_id, "status": "queued"}


@router.get("/loans/{loan_id}/messages", tags=["messages"])
def loan_messages(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    borrower = contacts.borrower_of_loan(platform, loan_id)  # 404 for an unknown loan
    if user.role is Role.BORROWER and borrower != user.borrower_id:
        raise NotFound(f"loan {loan_id} does not exist")
    return {"loan_id": loan_id, "messages": notifications.messages_of(platform, loan_id)}
