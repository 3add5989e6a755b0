"""A compact notation for loan stories, so scenario tests read like a servicing file.

One line per step; `#` starts a comment. A story starts with a `loan` line, then dated steps:

    loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
    2026-02-10 pay-due 1                 # pay instalment 1's scheduled amount
    2026-03-26 pay 5000.00 id=p2         # any amount, optional id and channel=
    2026-03-27 reverse p2
    2026-04-01 waive penalty 10.00
    2026-04-01 expect dpd=22 bucket=M1 arrears=4428.54 credit=0.00 penalty=12.34
    2026-06-20 prepay 50000 shorten-term
    2028-12-20 refinance 12 at 6.0
    2028-12-20 extend 24 -> refused EXTENSION_OVER_CAP
    2029-01-10 trade-in 50000 shortfall-months=6
    2029-01-10 settle                    # quote the payoff and pay it
    2029-01-10 expect paid-off

Amounts are yuan; `expect` keys: dpd, bucket, arrears, credit, penalty, principal (all
outstanding principal), overdue-principal, installments (count in the schedule version),
version, paid-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from tailguard.calendar import BusinessCalendar, ChinaStatutoryCalendar
from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import (
    Channel,
    ChargeWaived,
    Component,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.maturity import (
    MaturityOption,
    plan_extension,
    plan_refinance,
    plan_vehicle_disposition,
)
from tailguard.loans.payoff import quote_payoff
from tailguard.loans.prepayment import plan_partial_prepayment
from tailguard.loans.products import PrepaymentMode, Product, standard_catalogue
from tailguard.loans.restructure import apply_restructure, plan_restructure
from tailguard.loans.terms import LoanRequest, validate_request
from tailguard.money import parse_major, parse_percent, yuan


@dataclass
class Story:
    account: LoanAccount | None = None
    log: list[str] = field(default_factory=list)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def _kv(tokens: list[str]) -> dict[str, str]:
    return dict(t.split("=", 1) for t in tokens if "=" in t)


def _products() -> dict[str, Product]:
    return {p.code: p for p in standard_catalogue()}


def run_story(text: str, calendar: BusinessCalendar | None = None) -> Story:
    """Play a story; any failed `expect` raises AssertionError naming the line."""
    story = Story()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            _step(story, line, calendar)
        except AssertionError as exc:
            raise AssertionError(f"line {number}: {line}: {exc}") from None
    return story


def _open(tokens: list[str], calendar: BusinessCalendar | None) -> LoanAccount:
    product = _products()[tokens[1]]
    kv = _kv(tokens[2:])
    balloon = kv.get("balloon")
    request = LoanRequest(
        principal_fen=parse_major(kv["principal"]),
        annual_rate=parse_percent(kv["rate"]),
        term_months=int(kv["term"]),
        disbursement_date=date.fromisoformat(kv["start"]),
        balloon_share=parse_percent(balloon.rstrip("%")) if balloon else None,
        vehicle_used=kv.get("used", "no") == "yes",
    )
    terms = validate_request(product, request)
    return LoanAccount.open("story", terms, calendar or ChinaStatutoryCalendar())


def _step(story: Story, line: str, calendar: BusinessCalendar | None) -> None:
    tokens = line.split()
    if tokens[0] == "loan":
        story.account = _open(tokens, calendar)
        return
    assert story.account is not None, "a story starts with a loan line"
    expect_refusal = None
    if "->" in tokens:
        arrow = tokens.index("->")
        assert tokens[arrow + 1] == "refused", "only '-> refused CODE' follows an arrow"
        expect_refusal = tokens[arrow + 2]
        tokens = tokens[:arrow]
    day = date.fromisoformat(tokens[0])
    verb, args = tokens[1], tokens[2:]
    try:
        _act(story, day, verb, args)
    except Refused as refusal:
        assert expect_refusal == refusal.code, f"refused {refusal.code}: {refusal.message}"
        return
    assert expect_refusal is None, f"expected refusal {expect_refusal}, but it went through"


def _act(story: Story, day: date, verb: str, args: list[str]) -> None:
    account = story.account
    assert account is not None
    kv = _kv(args)
    if verb == "pay":
        channel = Channel(kv.get("channel", "bank-transfer"))
        pid = kv.get("id", story.next_id("p"))
        story.account = account.with_event(
            PaymentReceived(pid, day, parse_major(args[0]), channel)
        )
    elif verb == "pay-due":
        inst = account.schedule.installments[int(args[0]) - 1]
        pid = kv.get("id", story.next_id("p"))
        story.account = account.with_event(PaymentReceived(pid, day, inst.payment_fen))
    elif verb == "reverse":
        story.account = account.with_event(PaymentReversed(args[0], day))
    elif verb == "waive":
        story.account = account.with_event(
            ChargeWaived(story.next_id("w"), day, parse_major(args[1]), Component(args[0]))
        )
    elif verb == "settle":
        quote = quote_payoff(account, day)
        story.account = account.with_schedule(quote.settlement).with_event(
            PaymentReceived(story.next_id("p"), day, quote.total_fen)
        ) if quote.total_fen else account.with_schedule(quote.settlement)
    elif verb == "prepay":
        plan = plan_partial_prepayment(account, day, parse_major(args[0]), PrepaymentMode(args[1]))
        story.account = account.with_schedule(plan.schedule).with_event(
            PaymentReceived(story.next_id("p"), day, plan.amount_fen)
        )
    elif verb == "refinance":
        assert args[1] == "at"
        plan = plan_refinance(account, day, int(args[0]), parse_percent(args[2]))
        story.account = plan.apply(account)
    elif verb == "extend":
        plan = plan_extension(
            account, day, int(args[0]),
            has_guarantor=kv.get("guarantor", "no") == "yes",
            guarantor_consent=kv.get("consent", "no") == "yes",
        )
        story.account = plan.apply(account)
    elif verb == "restructure":
        plan = plan_restructure(
            account, day, int(args[0]), story.next_id("r"),
            parse_percent(kv["rate"]) if "rate" in kv else None,
        )
        story.account = apply_restructure(account, plan)
    elif verb in ("trade-in", "return-car"):
        option = MaturityOption.TRADE_IN if verb == "trade-in" else MaturityOption.RETURN_VEHICLE
        months = int(kv["shortfall-months"]) if "shortfall-months" in kv else None
        disposition = plan_vehicle_disposition(
            account, day, option, parse_major(args[0]), story.next_id("v"), months
        )
        story.account = disposition.apply(account)
        story.log.append(f"surplus={yuan(disposition.surplus_fen)}")
        story.log.append(f"shortfall={yuan(disposition.shortfall_fen)}")
    elif verb == "expect":
        _expect(account, day, args, story)
    else:
        raise AssertionError(f"unknown step {verb!r}")


def _expect(account: LoanAccount, day: date, args: list[str], story: Story) -> None:
    position = account.position(day)
    actual = {
        "dpd": str(position.dpd),
        "bucket": position.bucket,
        "arrears": yuan(position.arrears_fen),
        "credit": yuan(position.credit_balance_fen),
        "penalty": yuan(position.penalty_outstanding_fen),
        "principal": yuan(position.principal_outstanding_fen),
        "overdue-principal": yuan(position.overdue_principal_fen),
        "installments": str(len(account.schedule.installments)),
        "version": str(account.schedule.version),
        "surplus": next((e.split("=")[1] for e in reversed(story.log) if "surplus" in e), ""),
        "shortfall": next((e.split("=")[1] for e in reversed(story.log) if "shortfall" in e), ""),
    }
    for arg in args:
        if arg == "paid-off":
            assert position.paid_off, f"not paid off: arrears {yuan(position.arrears_fen)}"
            continue
        key, want = arg.split("=", 1)
        if key in ("arrears", "credit", "penalty", "principal", "overdue-principal",
                   "surplus", "shortfall"):
            want = yuan(parse_major(want))
        assert actual[key] == want, f"{key}: expected {want}, got {actual[key]}"
