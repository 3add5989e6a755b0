"""Legal steps and repossession: where to file, and when a repossession may be asked for.

Venue (from `../shared/reference/china-auto-finance.md` and the contract):

1. An arbitration clause in the contract sends the dispute to the agreed arbitration
   commission; a court would decline it (Arbitration Law Art. 5), so arbitration it is.
2. Enforcing the vehicle mortgage (实现担保物权) is filed at the court where the vehicle is, or
   where the mortgage was registered (the vehicle office's place): where the vehicle is
   first, because that court can also seize it; the registration place when the vehicle's
   whereabouts are unknown.
3. Suing on the debt goes to the court the contract agreed, if any; otherwise to the court
   of the borrower's domicile.

Repossession comes only after the earlier steps have failed: calls, a field visit and a
lawyer's letter, with the loan at least `REPOSSESSION_MIN_DPD` days past due; and then only with
a manager's approval (another person than the one asking).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from tailguard.errors import InvalidInput, Refused

REPOSSESSION_MIN_DPD = 60
REPOSSESSION_PREREQUISITES = ("call", "field-visit", "lawyer-letter")
"""What must have been done on the case before repossession can be asked for."""

PROCEEDINGS = ("debt", "security")


@dataclass(frozen=True)
class Venue:
    kind: str  # litigation or arbitration
    place: str
    """A region code (court) or the arbitration commission's name."""
    basis: str


def choose_venue(proceeding: str, *, arbitration_commission: str | None = None,
                 agreed_court_region: str | None = None,
                 vehicle_region: str | None = None,
                 registration_region: str | None = None,
                 borrower_domicile_region: str | None = None) -> Venue:
    if proceeding not in PROCEEDINGS:
        raise InvalidInput.one("proceeding", "invalid", "debt or security")
    if arbitration_commission:
        return Venue("arbitration", arbitration_commission,
                     "the contract's arbitration clause (Arbitration Law Art. 5)")
    if proceeding == "security":
        if vehicle_region:
            return Venue("litigation", vehicle_region,
                         "enforcing the mortgage: the court where the vehicle is")
        if registration_region:
            return Venue("litigation", registration_region,
                         "enforcing the mortgage: the court where it was registered")
        raise InvalidInput.one("vehicle_region", "required",
                               "the vehicle's location or its registration place is needed")
    if agreed_court_region:
        return Venue("litigation", agreed_court_region, "the court agreed in the contract")
    if borrower_domicile_region:
        return Venue("litigation", borrower_domicile_region,
                     "no agreed venue: the court of the borrower's domicile")
    raise InvalidInput.one("borrower_domicile_region", "required",
                           "no agreed venue and no known domicile of the borrower")


def check_repossession_request(done: Collection[str], dpd: int) -> None:
    """Refuse a repossession request before the earlier steps (or too early)."""
    missing = [step for step in REPOSSESSION_PREREQUISITES if step not in done]
    if missing:
        raise Refused("EARLIER_STEPS_MISSING",
                      f"repossession needs these steps first: {', '.join(missing)}")
    if dpd < REPOSSESSION_MIN_DPD:
        raise Refused("TOO_EARLY",
                      f"repossession only from {REPOSSESSION_MIN_DPD} days past due")


def check_approval(requested_by: str, approver: str, approver_is_manager: bool) -> None:
    if not approver_is_manager:
        raise Refused("NOT_A_MANAGER", "a team lead (manager) must approve a repossession")
    if requested_by == approver:
        raise Refused("SAME_PERSON", "the approver must be another person than the requester")
