"""Books that follow the replay exactly: cumulative flows per loan, and their true-up.

Why flows: a backdated payment changes how *other* payments were shared among penalty,
interest and principal; a reversal un-shares one; a restructure converts arrears. Posting each
event's own allocation would leave the books a little off after any of these. Instead, every
money quantity the ledger cares about is a cumulative *flow* the replay can state for a loan at
any moment: interest earned so far, cash applied to principal so far, penalty waived so far…
The books keep the same flows as booked so far; after any change the difference between what
the replay says and what was booked is posted, flow by flow, each flow always against the same
pair of accounts. The books then equal the replay by construction, to the fen, whatever the
order in which facts arrived.

Flows and their account pairs (debit / credit):

| flow | debit | credit |
| --- | --- | --- |
| disbursed | principal receivable | disbursement clearing |
| earned:c (interest, penalty, fee) | c receivable | c income |
| applied:cash:c | unapplied receipts | c receivable |
| applied:credit:c | borrower credit balance | c receivable |
| applied:conversion:c | principal receivable | c receivable |
| applied:proceeds:c | collateral held | c receivable |
| to_credit:s (cash, conversion, proceeds) | source account of s | borrower credit balance |
| waived:c | waiver expense | c receivable |
| applied:incentive:c | incentive expense | c receivable |
| to_credit:incentive | incentive expense | borrower credit balance |

Cash itself is posted when it arrives (Dr cash / Cr unapplied receipts) and reversed when a
payment bounces; the application flows then clear unapplied receipts to zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tailguard.loans.events import Channel, Component
from tailguard.loans.position import Position, is_credit_application

PRINCIPAL_RECEIVABLE = "1301.principal"
INTEREST_RECEIVABLE = "1302.interest"
PENALTY_RECEIVABLE = "1303.penalty"
FEE_RECEIVABLE = "1304.fee"
INTEREST_INCOME = "6011.interest"
PENALTY_INCOME = "6012.penalty"
FEE_INCOME = "6021.fee"
CASH = "1002.cash"
DISBURSEMENT_CLEARING = "2241.disbursement"
UNAPPLIED_RECEIPTS = "2242.unapplied"
CREDIT_BALANCE = "2243.credit"
COLLATERAL_HELD = "1441.collateral"
BORROWER_PAYABLE = "2244.payable"
"""What the lender owes a borrower outside the loan: the surplus of a vehicle's appraisal
over the debt it settled (trade-in or return), until it is paid out or carried to the next
car."""
WAIVER_EXPENSE = "6711.waiver"
INCENTIVE_EXPENSE = "6721.incentive"
"""What incentive programmes cost (rebates, cash back): an award is a non-cash payment from
this account (`Channel.INCENTIVE`), so the replay applies it like any payment, to what is
due or else to the borrower's credit balance, and the books follow."""

RECEIVABLE = {
    Component.PRINCIPAL: PRINCIPAL_RECEIVABLE,
    Component.INTEREST: INTEREST_RECEIVABLE,
    Component.PENALTY: PENALTY_RECEIVABLE,
    Component.FEE: FEE_RECEIVABLE,
}
INCOME = {
    Component.INTEREST: INTEREST_INCOME,
    Component.PENALTY: PENALTY_INCOME,
    Component.FEE: FEE_INCOME,
}
SOURCES = ("cash", "credit", "conversion", "proceeds", "incentive")
SOURCE_ACCOUNT = {
    "cash": UNAPPLIED_RECEIPTS,
    "credit": CREDIT_BALANCE,
    "conversion": PRINCIPAL_RECEIVABLE,
    "proceeds": COLLATERAL_HELD,
    "incentive": INCENTIVE_EXPENSE,
}


def _source(payment_id: str, channels: Mapping[str, Channel]) -> str:
    if is_credit_application(payment_id):
        return "credit"
    channel = channels.get(payment_id, Channel.BANK_TRANSFER)
    if channel is Channel.RESTRUCTURE:
        return "conversion"
    if channel is Channel.VEHICLE_PROCEEDS:
        return "proceeds"
    if channel is Channel.INCENTIVE:
        return "incentive"
    return "cash"


def flow_accounts(flow: str) -> tuple[str, str]:
    """The (debit, credit) accounts a positive amount of `flow` moves between."""
    kind, _, rest = flow.partition(":")
    if kind == "disbursed":
        return PRINCIPAL_RECEIVABLE, DISBURSEMENT_CLEARING
    if kind == "earned":
        component = Component(rest)
        return RECEIVABLE[component], INCOME[component]
    if kind == "applied":
        source, _, component_text = rest.partition(":")
        return SOURCE_ACCOUNT[source], RECEIVABLE[Component(component_text)]
    if kind == "to_credit":
        return SOURCE_ACCOUNT[rest], CREDIT_BALANCE
    if kind == "waived":
        return WAIVER_EXPENSE, RECEIVABLE[Component(rest)]
    if kind == "refunded":
        return CREDIT_BALANCE, CASH
    raise ValueError(f"unknown flow {flow!r}")


def target_flows(
    position: Position,
    principal_fen: int,
    accrued_interest_fen: int,
    channels: Mapping[str, Channel],
) -> dict[str, int]:
    """Every flow's cumulative amount for a loan as the replay states it.

    `principal_fen` is the amount disbursed; `accrued_interest_fen` the interest earned in the
    current period and not yet due (from `tailguard.loans.accrual`); `channels` the channel of
    each payment id, to tell cash from conversions and vehicle proceeds.
    """
    flows: dict[str, int] = {"disbursed": principal_fen}
    due = position.due()
    flows["earned:interest"] = sum(s.installment.interest_fen for s in due) + accrued_interest_fen
    flows["earned:penalty"] = sum(s.penalty_accrued_fen for s in position.installments)
    flows["earned:fee"] = sum(s.installment.fee_fen for s in due)
    for source in SOURCES:
        for component in Component:
            flows[f"applied:{source}:{component.value}"] = 0
        if source != "credit":
            flows[f"to_credit:{source}"] = 0
    for allocation in position.allocations:
        source = _source(allocation.payment_id, channels)
        for part in allocation.parts:
            flows[f"applied:{source}:{part.component.value}"] += part.amount_fen
        if allocation.to_credit_fen:
            flows[f"to_credit:{source}"] += allocation.to_credit_fen
    flows["waived:interest"] = sum(s.interest_waived_fen for s in position.installments)
    flows["waived:penalty"] = sum(s.penalty_waived_fen for s in position.installments)
    flows["waived:fee"] = sum(s.fee_waived_fen for s in position.installments)
    flows["refunded"] = position.refunded_fen
    return flows


@dataclass(frozen=True)
class FlowPosting:
    """One leg of a true-up: `amount_fen` signed, debit positive."""

    account: str
    amount_fen: int


def true_up(target: Mapping[str, int], booked: Mapping[str, int]) -> tuple[
    dict[str, int], list[FlowPosting]
]:
    """The flow deltas to book and the postings that book them (summing to zero)."""
    deltas = {
        flow: amount - booked.get(flow, 0)
        for flow, amount in target.items()
        if amount != booked.get(flow, 0)
    }
    for flow in booked:
        if flow not in target and booked[flow]:
            deltas[flow] = -booked[flow]
    legs: dict[str, int] = {}
    for flow, delta in deltas.items():
        debit, credit = flow_accounts(flow)
        legs[debit] = legs.get(debit, 0) + delta
        legs[credit] = legs.get(credit, 0) - delta
    postings = [FlowPosting(account, amount) for account, amount in sorted(legs.items()) if amount]
    assert sum(p.amount_fen for p in postings) == 0
    return deltas, postings


def receivable_targets(position: Position, accrued_interest_fen: int) -> dict[str, int]:
    """What each per-loan balance sheet account should show (debit positive)."""
    return {
        PRINCIPAL_RECEIVABLE: position.principal_outstanding_fen,
        INTEREST_RECEIVABLE: sum(s.interest_outstanding_fen for s in position.due())
        + accrued_interest_fen,
        PENALTY_RECEIVABLE: position.penalty_outstanding_fen,
        FEE_RECEIVABLE: sum(s.fee_outstanding_fen for s in position.due()),
        CREDIT_BALANCE: -position.credit_balance_fen,
    }
