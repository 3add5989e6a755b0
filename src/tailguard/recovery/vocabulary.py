"""The words of collections: case states, close reasons, treatment actions, arms, stages.

Values are the strings stored in the database and accepted over the API; add members, never
rename them.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """Why a case ends: the debt is current again, paid off, written off or sold."""

    CURE = "cure"
    SETTLEMENT = "settlement"
    WRITE_OFF = "write-off"
    SALE = "sale"


class Action(StrEnum):
    """The steps a treatment path is made of, mildest first."""

    REMINDER = "reminder"
    CALL = "call"
    RESTRUCTURE_OFFER = "restructure-offer"
    FIELD_VISIT = "field-visit"
    AGENCY_PLACEMENT = "agency-placement"
    LAWYER_LETTER = "lawyer-letter"
    LEGAL_ACTION = "legal-action"
    """Litigation or arbitration: which one, and where, the venue rules decide (legal.py)."""
    REPOSSESSION = "repossession"


class Arm(StrEnum):
    """Champion/challenger: which treatment a borrower was randomly given."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"
    HOLDOUT = "holdout"


class BalloonStage(StrEnum):
    NONE = "none"  # no balloon on the loan
    BEFORE = "before"  # balloon more than the approach window away
    APPROACHING = "approaching"  # balloon due within the approach window
    DUE = "due"  # the balloon's due date has passed


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PartnerKind(StrEnum):
    AGENCY = "agency"  # collection agency (催收机构)
    REPOSSESSION = "repossession"  # vehicle recovery firm
    LEGAL = "legal"  # law firm


class LegalStep(StrEnum):
    DEMAND_LETTER = "demand-letter"  # lawyer's letter (律师函)
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    JUDGMENT = "judgment"
    ENFORCEMENT = "enforcement"
    REPOSSESSION_REQUEST = "repossession-request"
    REPOSSESSION_APPROVED = "repossession-approved"
    REPOSSESSION_REJECTED = "repossession-rejected"
    REPOSSESSED = "repossessed"
