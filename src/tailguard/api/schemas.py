"""API request and response schemas (pydantic), separate from tables and domain values.

Amounts travel as yuan strings with at most two decimals ("4417.73"), never as floats: a
JSON number would be read as a float by most clients and lose the fen.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tailguard.money import AmountError, parse_major

AMOUNT_PATTERN = r"^\d{1,12}(\.\d{1,2})?$"
YuanText = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["4417.73"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentIn(Strict):
    amount: YuanText
    value_date: date | None = None
    channel: Literal["auto-debit", "bank-transfer", "app", "counter"] = "bank-transfer"

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: str) -> str:
        try:
            if parse_major(value) <= 0:
                raise ValueError("must be more than zero")
        except AmountError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def amount_fen(self) -> int:
        return parse_major(self.amount)


class ReversalIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=80)] = "bounced"


class SettleIn(Strict):
    amount: YuanText
    reason: Literal["voluntary", "trade-in"] = "voluntary"


class BalloonOptionIn(Strict):
    option: Literal["refinance", "extend", "trade-in", "return-vehicle"]
    months: Annotated[int, Field(ge=1, le=60)] | None = None
    annual_rate_percent: Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,4})?$")] | None = None
    appraised_value: YuanText | None = None
    shortfall_months: Annotated[int, Field(ge=1, le=36)] | None = None
    has_guarantor: bool = False
    guarantor_consent: bool = False


class ApprovalIn(Strict):
    action: Literal["waive", "write-off", "restructure", "refinance", "extend"]
    amount: YuanText | None = None
    component: Literal["penalty", "interest", "fee"] | None = None
    months: Annotated[int, Field(ge=1, le=120)] | None = None
    annual_rate_percent: Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,4})?$")] | None = None


class DecisionIn(Strict):
    approve: bool


class UnmaskIn(Strict):
    fields: Annotated[
        list[Literal["name", "id_number", "phone", "address", "bank_card"]],
        Field(min_length=1, max_length=5),
    ]
    reason: Annotated[str, Field(min_length=4, max_length=200)]


class EodRunIn(Strict):
    as_of: date


class Problem(BaseModel):
    """A 4xx answer: which field is wrong (if one is), a code and a sentence."""

    field: str | None = None
    code: str
    message: str


class ProblemDoc(BaseModel):
    detail: list[Problem]
