"""Documents for screens and scripts: a loan with its schedule and balances, the trial
balance. Shared by the CLI (`--json`) and the API so both say the same thing."""

from __future__ import annotations

from datetime import date
from typing import Any

from tailguard.infra.db import ledger_repository
from tailguard.money import yuan
from tailguard.services import queries, servicing
from tailguard.services.platform import Platform

ACCOUNT_NAMES = {
    "1002.cash": "银行存款 cash and clearing",
    "1301.principal": "贷款本金 principal receivable",
    "1302.interest": "应收利息 interest receivable",
    "1303.penalty": "应收罚息 penalty receivable",
    "1304.fee": "应收费用 fee receivable",
    "1441.collateral": "抵债车辆 collateral held",
    "2241.disbursement": "放款清算 disbursement clearing",
    "2242.unapplied": "待分配款项 unapplied receipts",
    "2243.credit": "客户溢缴款 borrower credit balance",
    "2244.payable": "应付客户款 payable to borrower (vehicle surplus)",
    "6011.interest": "利息收入 interest income",
    "6012.penalty": "罚息收入 penalty income",
    "6021.fee": "手续费收入 fee income",
    "6701.write-off": "核销损失 write-off expense",
    "6711.waiver": "减免支出 waiver expense",
    "6721.incentive": "客户激励支出 incentive expense",
}


def loan_document(plat: Platform, loan_id: str) -> dict[str, Any]:
    account = servicing.load_account(plat, loan_id)
    today = plat.today()
    position = account.position(today)
    with plat.engine.connect() as conn:
        balances = ledger_repository.loan_balances(conn, loan_id)
    terms = account.terms
    return {
        "id": loan_id,
        "as_of": today.isoformat(),
        "terms": {
            "product": terms.product.key, "method": terms.product.method.value,
            "principal": yuan(terms.principal_fen), "annual_rate": str(account.annual_rate),
            "annualised_rate": str(terms.annualised_rate()), "term_months": terms.term_months,
            "disbursement_date": terms.disbursement_date.isoformat(),
            "balloon": yuan(account.schedule.balloon_fen),
            "schedule_version": account.schedule.version,
        },
        "dpd": position.dpd,
        "bucket": position.bucket,
        "principal_outstanding": yuan(position.principal_outstanding_fen),
        "arrears": yuan(position.arrears_fen),
        "penalty_outstanding": yuan(position.penalty_outstanding_fen),
        "credit_balance": yuan(position.credit_balance_fen),
        "schedule": [
            {
                "number": s.number, "due_date": s.due_date.isoformat(),
                "kind": s.installment.kind.value,
                "payment": yuan(s.installment.payment_fen),
                "principal": yuan(s.installment.principal_fen),
                "interest": yuan(s.installment.interest_fen),
                "fee": yuan(s.installment.fee_fen),
                "outstanding": yuan(s.total_outstanding_fen if s.due_date <= today
                                    else s.installment.payment_fen),
                "penalty": yuan(s.penalty_outstanding_fen),
                "settled_on": s.settled_on.isoformat() if s.settled_on else None,
            }
            for s in position.installments
        ],
        "ledger_balances": {k: yuan(v) for k, v in sorted(balances.items())},
    }


def trial_balance_document(plat: Platform, as_of: date) -> dict[str, Any]:
    with plat.engine.connect() as conn:
        tb = queries.trial_balance(conn, as_of)
    return {
        "as_of": as_of.isoformat(),
        "debits": yuan(tb.debits_fen),
        "credits": yuan(tb.credits_fen),
        "balanced": tb.balanced,
        "accounts": [
            {"account": r.account, "name": ACCOUNT_NAMES.get(r.account, r.account),
             "debits": yuan(r.debits_fen), "credits": yuan(r.credits_fen),
             "balance": yuan(r.balance_fen)}
            for r in tb.rows
        ],
    }


