"""The vocabulary of signals: facts about a loan or its borrower that arrive after booking,
from the payment gateway, the bank, collectors, registries and the vehicle's tracker.

A signal is checked here once, field by field, into a frozen `Signal`; everything downstream
(the rules, the alert, the stored row) relies on the attributes having the types this module
gives them. Values are the strings stored and accepted over the API and the bus, so they never
change once released; add new members instead.

Telematics (GPS offline, outside the home province, inside a geofence, device tampering) is
personal location data: it is accepted only for loans whose borrower gave separate GPS consent
(PIPL Arts. 14, 28-29: location tracking is sensitive personal information). The consent is
a fact the service holds; `requires_gps_consent` says which kinds need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tailguard.engagement.vocabulary import Channel, Outcome
from tailguard.errors import FieldError, InvalidInput


class SignalKind(StrEnum):
    PAYMENT_RECEIVED = "payment-received"
    DEBIT_FAILED = "debit-failed"  # an auto-debit (代扣) the bank refused, with its reason
    STATEMENT_LINE = "statement-line"  # a line of the lender's bank statement matched to a loan
    CONTACT_OUTCOME = "contact-outcome"
    PHONE_CHANGED = "phone-changed"
    ADDRESS_CHANGED = "address-changed"
    COURT_HIT = "court-hit"  # a court case or enforcement list naming the borrower
    GPS_OFFLINE = "gps-offline"
    OUTSIDE_PROVINCE = "outside-province"
    GEOFENCE_ENTERED = "geofence-entered"
    DEVICE_TAMPERING = "device-tampering"
    BALLOON_WINDOW = "balloon-window"  # raised by the balloon watch, not accepted from outside

    @property
    def requires_gps_consent(self) -> bool:
        return self in TELEMATICS


TELEMATICS = frozenset({SignalKind.GPS_OFFLINE, SignalKind.OUTSIDE_PROVINCE,
                        SignalKind.GEOFENCE_ENTERED, SignalKind.DEVICE_TAMPERING})
INTERNAL = frozenset({SignalKind.BALLOON_WINDOW})
"""Kinds only tailguard itself raises: refused from the API and the bus."""


class DebitFailure(StrEnum):
    """Why the bank refused an auto-debit; the codes of the payment gateway's answers."""

    INSUFFICIENT_FUNDS = "insufficient-funds"  # 余额不足
    ACCOUNT_FROZEN = "account-frozen"  # 账户冻结 (often a court freeze)
    ACCOUNT_CLOSED = "account-closed"  # 账户已销户
    CARD_EXPIRED = "card-expired"
    MANDATE_REVOKED = "mandate-revoked"  # 代扣协议已解约: the borrower withdrew the mandate
    LIMIT_EXCEEDED = "limit-exceeded"  # 超过单笔/单日限额
    BANK_ERROR = "bank-error"  # the bank or the channel failed; says nothing about the borrower
    OTHER = "other"


class CourtList(StrEnum):
    COURT_CASE = "court-case"  # a civil case naming the borrower as defendant
    ENFORCEMENT = "enforcement"  # 被执行人: a judgment being enforced against them
    DISHONEST_DEBTOR = "dishonest-debtor"  # 失信被执行人 list
    CONSUMPTION_RESTRICTION = "consumption-restriction"  # 限制高消费


class FenceKind(StrEnum):
    USED_CAR_MARKET = "used-car-market"  # 二手车市场: a car about to be sold
    PAWN_SHOP = "pawn-shop"  # 典当行 / car pledge lots: a car about to be pledged
    BORDER = "border"  # a border crossing or port
    REPAIR_SHOP = "repair-shop"  # where trackers get removed
    OTHER = "other"


class Direction(StrEnum):
    CREDIT = "credit"  # money into the lender's account
    DEBIT = "debit"


@dataclass(frozen=True)
class _Attr:
    kind: str  # int, str, enum
    required: bool = True
    enum: type[StrEnum] | None = None
    minimum: int | None = None
    max_length: int = 120


_INT0 = _Attr("int", minimum=0)
_FEN = _Attr("int", minimum=1)
ATTRIBUTES: dict[SignalKind, dict[str, _Attr]] = {
    SignalKind.PAYMENT_RECEIVED: {"amount_fen": _FEN,
                                  "channel": _Attr("str", required=False, max_length=20)},
    SignalKind.DEBIT_FAILED: {"amount_fen": _FEN,
                              "reason": _Attr("enum", enum=DebitFailure),
                              "bank_code": _Attr("str", required=False, max_length=40)},
    SignalKind.STATEMENT_LINE: {"amount_fen": _FEN,
                                "direction": _Attr("enum", enum=Direction),
                                "reference": _Attr("str", required=False, max_length=200),
                                "counterparty": _Attr("str", required=False),
                                "match": _Attr("str", required=False, max_length=16)},
    SignalKind.CONTACT_OUTCOME: {"outcome": _Attr("enum", enum=Outcome),
                                 "channel": _Attr("enum", enum=Channel),
                                 "promise_fen": _Attr("int", required=False, minimum=1)},
    SignalKind.PHONE_CHANGED: {"verified": _Attr("bool", required=False)},
    SignalKind.ADDRESS_CHANGED: {"region_code": _Attr("str", required=False, max_length=6)},
    SignalKind.COURT_HIT: {"list": _Attr("enum", enum=CourtList),
                           "case_number": _Attr("str", required=False, max_length=80),
                           "court": _Attr("str", required=False)},
    SignalKind.GPS_OFFLINE: {"hours": _INT0},
    SignalKind.OUTSIDE_PROVINCE: {"days": _INT0,
                                  "province_code": _Attr("str", required=False, max_length=6)},
    SignalKind.GEOFENCE_ENTERED: {"fence": _Attr("str", max_length=80),
                                  "fence_kind": _Attr("enum", enum=FenceKind)},
    SignalKind.DEVICE_TAMPERING: {"detail": _Attr("str", required=False, max_length=200)},
    SignalKind.BALLOON_WINDOW: {"days_left": _INT0, "stage": _INT0,
                                "chance_not_settled": _Attr("float")},
}
"""Each kind's attributes and their types: the contract with every producer."""


@dataclass(frozen=True)
class Signal:
    """One fact about one loan. `external_id` is the producer's id: the same id from the same
    source is the same signal (a redelivered bus message, a re-imported statement)."""

    kind: SignalKind
    loan_id: str
    occurred_at: datetime
    source: str
    external_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """A field rules can name: `kind`, `source` or an attribute (None when absent)."""
        if name == "kind":
            return self.kind.value
        if name == "source":
            return self.source
        return self.attributes.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "loan_id": self.loan_id,
                "occurred_at": self.occurred_at.isoformat(), "source": self.source,
                "external_id": self.external_id, "attributes": dict(self.attributes)}


def _check_attr(name: str, spec: _Attr, raw: Any, where: str,
                errors: list[FieldError]) -> Any:
    path = f"{where}attributes.{name}"
    if spec.kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            errors.append(FieldError(path, "invalid", "a whole number"))
            return None
        if spec.minimum is not None and raw < spec.minimum:
            errors.append(FieldError(path, "too_small", f"at least {spec.minimum}"))
        return raw
    if spec.kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            errors.append(FieldError(path, "invalid", "a number"))
            return None
        return float(raw)
    if spec.kind == "bool":
        if not isinstance(raw, bool):
            errors.append(FieldError(path, "invalid", "true or false"))
        return raw
    if not isinstance(raw, str) or not raw.strip():
        errors.append(FieldError(path, "invalid", "a non-empty string"))
        return None
    if spec.enum is not None:
        try:
            return spec.enum(raw).value
        except ValueError:
            errors.append(FieldError(path, "invalid",
                                     f"one of {', '.join(m.value for m in spec.enum)}"))
            return None
    if len(raw) > spec.max_length:
        errors.append(FieldError(path, "too_long", f"at most {spec.max_length} characters"))
    return raw


def parse_signal(raw: Any, *, source: str, where: str = "",
                 internal: bool = False) -> Signal:
    """Check one signal from plain JSON values, naming every wrong field (`where` prefixes
    the names, e.g. `signals[3].`). Unknown attributes are refused, so a producer's typo is
    not silently ignored."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.one(where.rstrip(".") or "body", "invalid", "a JSON object")
    errors: list[FieldError] = []
    unknown = set(raw) - {"kind", "loan_id", "occurred_at", "external_id", "attributes"}
    errors.extend(FieldError(f"{where}{name}", "unknown", "not a field of a signal")
                  for name in sorted(unknown))
    kind: SignalKind | None = None
    try:
        kind = SignalKind(str(raw.get("kind")))
        if kind in INTERNAL and not internal:
            raise ValueError
    except ValueError:
        accepted = [k.value for k in SignalKind if k not in INTERNAL]
        errors.append(FieldError(f"{where}kind", "invalid", f"one of {', '.join(accepted)}"))
    loan_id = raw.get("loan_id")
    if not isinstance(loan_id, str) or not 0 < len(loan_id) <= 40:
        errors.append(FieldError(f"{where}loan_id", "invalid", "a loan id (1-40 characters)"))
    occurred = raw.get("occurred_at")
    occurred_at: datetime | None = None
    if isinstance(occurred, datetime):
        occurred_at = occurred
    elif isinstance(occurred, str):
        try:
            occurred_at = datetime.fromisoformat(occurred)
        except ValueError:
            occurred_at = None
    if occurred_at is None:
        errors.append(FieldError(f"{where}occurred_at", "invalid",
                                 "an ISO 8601 time with its offset"))
    elif occurred_at.utcoffset() is None:
        errors.append(FieldError(f"{where}occurred_at", "naive", "the time needs an offset"))
        occurred_at = None
    external_id = raw.get("external_id")
    if external_id is not None and (not isinstance(external_id, str)
                                    or not 0 < len(external_id) <= 120):
        errors.append(FieldError(f"{where}external_id", "invalid", "1-120 characters"))
    attributes_in = raw.get("attributes", {})
    attributes: dict[str, Any] = {}
    if not isinstance(attributes_in, Mapping):
        errors.append(FieldError(f"{where}attributes", "invalid", "a JSON object"))
    elif kind is not None:
        spec = ATTRIBUTES[kind]
        for name in sorted(set(attributes_in) - set(spec)):
            errors.append(FieldError(f"{where}attributes.{name}", "unknown",
                                     f"not an attribute of {kind.value}"))
        for name, attr in spec.items():
            if attributes_in.get(name) is None:
                if attr.required:
                    errors.append(FieldError(f"{where}attributes.{name}", "required",
                                             f"{kind.value} needs it"))
                continue
            attributes[name] = _check_attr(name, attr, attributes_in[name], where, errors)
    if errors:
        raise InvalidInput(errors)
    assert kind is not None and occurred_at is not None and isinstance(loan_id, str)
    return Signal(kind, loan_id, occurred_at, source, external_id, attributes)
