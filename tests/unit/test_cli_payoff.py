"""`tailguard payoff`: quotes consistent with the schedule, and one-line errors."""

from __future__ import annotations

import json
from decimal import Decimal

from click.testing import CliRunner

from tailguard.cli.main import main

LOAN = [
    "--method", "balloon", "--principal", "200000", "--annual-rate", "4.75", "--term", "36",
    "--balloon-percent", "30", "--start", "2026-01-10",
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_on_time_payoff_is_the_balance_plus_interest_accrued_since_the_last_due_date() -> None:
    code, out, _ = run("schedule", *LOAN, "--json")
    assert code == 0
    schedule = json.loads(out)
    balance_after_5 = Decimal(schedule["installments"][4]["balance_after"])
    code, out, err = run("payoff", *LOAN, "--on", "2026-06-20", "--json")
    assert code == 0, err
    quote = json.loads(out)
    assert quote["installments_paid"] == 5
    assert Decimal(quote["principal"]) == balance_after_5
    # 10 days (06-10 → 06-20) on the balance at 4.75 % / 360, rounded half-up to the fen.
    expected_interest = (balance_after_5 * Decimal("0.0475") * 10 / 360).quantize(Decimal("0.01"))
    assert Decimal(quote["interest"]) == expected_interest
    assert Decimal(quote["penalty"]) == 0
    assert Decimal(quote["total"]) == balance_after_5 + expected_interest


def test_missed_instalments_add_arrears_and_penalty() -> None:
    code, out, _ = run("payoff", *LOAN, "--on", "2026-06-20", "--paid-installments", "3",
                       "--json")
    assert code == 0
    quote = json.loads(out)
    assert Decimal(quote["penalty"]) > 0
    assert Decimal(quote["total"]) == sum(
        Decimal(quote[k]) for k in ("principal", "interest", "fee", "penalty")
    ) - Decimal(quote["credit"])


def test_text_output_names_the_total() -> None:
    code, out, _ = run("payoff", *LOAN, "--on", "2026-06-20")
    assert code == 0
    assert "TOTAL to pay" in out


def test_bad_input_is_one_line_naming_the_option() -> None:
    for args, option in [
        (("--on", "2026-02-30"), "--on"),
        (("--on", "2025-01-01"), "--on"),
        (("--on", "2026-06-20", "--paid-installments", "9"), "--paid-installments"),
    ]:
        code, out, err = run("payoff", *LOAN, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {option}:"), err
        assert "Traceback" not in err + out
