"""`tailguard schedule`: the table, the JSON object, and one-line errors for every bad input.

The calculator is what people outside the team will try first, often with mistakes, so each
kind of bad input from the issue (malformed or negative amounts, unknown method, rate or term
outside the limits, a balloon above the maximum or for a method without one, impossible dates,
click's own missing options and bad choices) is checked to give exactly one stderr line that
names the option, exit code 2, nothing on stdout, and no traceback. One test runs the installed
`tailguard` script in a subprocess, because the entry point and the process exit code are part
of the contract and CliRunner does not exercise them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tailguard.cli.calculator import today_in_china
from tailguard.cli.errors import (
    EXIT_INVALID_INPUT,
    EXIT_REFUSED,
    OneLineErrorGroup,
    reports_errors,
)
from tailguard.cli.main import main
from tailguard.errors import FieldError, InvalidInput, Refused

MORTGAGE = [
    "schedule", "--method", "equal-installment", "--principal", "1000000",
    "--annual-rate", "4.90", "--term", "360", "--start", "2026-01-15",
]
BALLOON = [
    "schedule", "--method", "balloon", "--principal", "200000.00", "--annual-rate", "4.75",
    "--term", "36", "--balloon-percent", "30", "--start", "2026-01-31",
]
AMOUNT = re.compile(r"^\d+\.\d{2}$")


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def test_table_has_a_header_one_row_per_instalment_and_totals() -> None:
    result = run(MORTGAGE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "method: equal-installment | principal: 1000000.00 | annual rate: 4.9% | "
        "term: 360 months | balloon: 0.00 | monthly payment: 5307.27 | annualised rate (IRR): 4.90%"
    )
    assert lines[1] == ""
    assert lines[2].split() == ["No.", "Due", "date", "Payment", "Principal", "Interest", "Balance"]
    # The published first month: interest 4,083.33, principal 1,223.94 (see the examples test).
    assert lines[3].split() == ["1", "2026-02-15", "5307.27", "1223.94", "4083.33", "998776.06"]
    assert lines[-2].split()[:2] == ["360", "2056-01-15"]
    assert lines[-2].split()[-1] == "0.00"
    assert lines[-1].split()[0] == "Total"
    assert lines[-1].split()[2] == "1000000.00"
    assert len(lines) == 3 + 360 + 1
    # Aligned: every amount column ends at the same position in every row.
    row_lengths = {len(line) for line in lines[2:-1]}
    assert len(row_lengths) == 1


def test_json_is_one_object_with_every_amount_a_yuan_string() -> None:
    result = run([*BALLOON, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == [
        "method", "principal", "annual_rate", "term_months", "balloon", "installments",
        "total_payment", "total_interest",
    ]
    assert document["method"] == "balloon"
    assert document["principal"] == "200000.00"
    assert document["annual_rate"] == "4.75"
    assert document["term_months"] == 36
    assert document["balloon"] == "60000.00"
    installments = document["installments"]
    assert [i["number"] for i in installments] == list(range(1, 37))
    assert all(
        list(i) == ["number", "due_date", "payment", "principal", "interest", "balance_after"]
        for i in installments
    )
    assert all(
        AMOUNT.match(i[key])
        for i in installments
        for key in ("payment", "principal", "interest", "balance_after")
    )
    # Due on the 31st, clamped: 28 February, 31 March, 30 April …
    assert [i["due_date"] for i in installments[:3]] == ["2026-02-28", "2026-03-31", "2026-04-30"]
    assert installments[-1]["due_date"] == "2029-01-31"
    fen = [
        {k: int(Decimal(v) * 100) for k, v in i.items() if isinstance(v, str) and AMOUNT.match(v)}
        for i in installments
    ]
    assert sum(i["principal"] for i in fen) == 20_000_000
    assert fen[-1]["principal"] > 6_000_000 and fen[-1]["balance_after"] == 0
    assert fen[-2]["balance_after"] > 6_000_000
    assert Decimal(document["total_payment"]) == sum(Decimal(i["payment"]) for i in installments)
    assert Decimal(document["total_interest"]) == sum(Decimal(i["interest"]) for i in installments)
    assert Decimal(document["total_payment"]) - Decimal(document["total_interest"]) == Decimal(
        "200000.00"
    )


def test_json_level_payment_is_the_annuity_with_the_balloon_left_over() -> None:
    result = run([*BALLOON, "--json"])
    payments = {i["payment"] for i in json.loads(result.stdout)["installments"][:-1]}
    # r = 0.0475/12; payment = r·(P·(1+r)^36 − B) / ((1+r)^36 − 1), P = 200,000, B = 60,000.
    r = Decimal("0.0475") / 12
    growth = (1 + r) ** 36
    expected = (r * (200_000 * growth - 60_000) / (growth - 1)).quantize(Decimal("0.01"))
    assert payments == {str(expected)}


def test_balloon_percent_is_rounded_half_up_to_the_fen() -> None:
    args = [
        "schedule", "--method", "balloon", "--principal", "12345.67", "--annual-rate", "6",
        "--term", "24", "--balloon-percent", "33.333", "--start", "2026-03-10", "--json",
    ]
    document = json.loads(run(args).stdout)
    expected = (Decimal("12345.67") * Decimal("33.333") / 100).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert document["balloon"] == str(expected) == "4115.18"


@pytest.mark.parametrize(
    ("method", "first_payment", "label"),
    [
        ("equal-principal", "6861.11", "first payment (then decreasing)"),
        ("interest-only", "4083.33", "monthly interest"),
    ],
)
def test_other_methods_state_their_headline_payment(
    method: str, first_payment: str, label: str
) -> None:
    args = [*MORTGAGE]
    args[args.index("equal-installment")] = method
    result = run(args)
    assert result.exit_code == 0, result.output
    assert f"{label}: {first_payment} | annualised rate (IRR): " in result.stdout.splitlines()[0]


def test_first_due_makes_a_broken_first_period_and_sets_the_day() -> None:
    args = [
        "schedule", "--method", "equal-installment", "--principal", "100000", "--annual-rate",
        "4.75", "--term", "12", "--start", "2026-01-25", "--first-due", "2026-03-05", "--json",
    ]
    installments = json.loads(run(args).stdout)["installments"]
    assert [i["due_date"] for i in installments[:3]] == ["2026-03-05", "2026-04-05", "2026-05-05"]
    # 39 days at 4.75 % on act/360: 100,000 × 0.0475 × 39 / 360 = 514.583 → 514.58.
    assert installments[0]["interest"] == "514.58"
    # From the second period on, a regular month: 100,000 − principal₁ at 4.75 % / 12.
    balance = Decimal(installments[0]["balance_after"])
    assert Decimal(installments[1]["interest"]) == (balance * Decimal("0.0475") / 12).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )


def test_start_defaults_to_today_in_china() -> None:
    args = [a for a in MORTGAGE if a not in ("--start", "2026-01-15")]
    result = run([*args, "--json"])
    assert result.exit_code == 0, result.output
    first_due = date.fromisoformat(json.loads(result.stdout)["installments"][0]["due_date"])
    assert 28 <= (first_due - today_in_china()).days <= 31


def replace(args: list[str], option: str, value: str | None) -> list[str]:
    """`args` with `option` set to `value`, added if absent, removed when `value` is None."""
    out = list(args)
    if option in out:
        at = out.index(option)
        del out[at : at + 2]
    if value is not None:
        out += [option, value]
    return out


BAD_INPUT = [
    # (arguments, option the message must name, words it must contain)
    (replace(MORTGAGE, "--principal", "-5"), "--principal", "must be between"),
    (replace(MORTGAGE, "--principal", "0"), "--principal", "must be between"),
    (replace(MORTGAGE, "--principal", "abc"), "--principal", "not an amount"),
    (replace(MORTGAGE, "--principal", "1000.123"), "--principal", "more than 2 decimal"),
    (replace(MORTGAGE, "--principal", "1e6"), "--principal", "not an amount"),
    (replace(MORTGAGE, "--method", "bullet"), "--method", "is not one of"),
    (replace(MORTGAGE, "--annual-rate", "40"), "--annual-rate", "must be between"),
    (replace(MORTGAGE, "--annual-rate", "-1"), "--annual-rate", "negative"),
    (replace(MORTGAGE, "--annual-rate", "four"), "--annual-rate", "not a percentage"),
    (replace(MORTGAGE, "--term", "0"), "--term", "must be between 1 and 360"),
    (replace(MORTGAGE, "--term", "361"), "--term", "must be between 1 and 360"),
    (replace(MORTGAGE, "--term", "12.5"), "--term", "not a valid integer"),
    (replace(BALLOON, "--balloon-percent", "50.01"), "--balloon-percent", "at most 50.00"),
    (replace(BALLOON, "--balloon-percent", "-10"), "--balloon-percent", "negative"),
    (replace(BALLOON, "--balloon-percent", None), "--balloon-percent", "required"),
    (replace(MORTGAGE, "--balloon-percent", "20"), "--balloon-percent", "only with"),
    (replace(MORTGAGE, "--balloon-percent", "0"), "--balloon-percent", "only with"),
    (replace(MORTGAGE, "--start", "2026-02-30"), "--start", "not a valid date"),
    (replace(MORTGAGE, "--start", "2026-13-01"), "--start", "not a valid date"),
    (replace(MORTGAGE, "--start", "15/01/2026"), "--start", "not a valid date"),
    (replace(MORTGAGE, "--first-due", "2026-01-10"), "--first-due", "after the disbursement"),
    (replace(MORTGAGE, "--first-due", "2026-06-15"), "--first-due", "within two months"),
    (replace(MORTGAGE, "--first-due", "2026-04-31"), "--first-due", "not a valid date"),
    (replace(MORTGAGE, "--principal", None), "--principal", "required"),
    (replace(MORTGAGE, "--method", None), "--method", "required"),
    ([*MORTGAGE, "--colour", "red"], "--colour", "no such option"),
    ([*MORTGAGE, "--term"], "--term", "requires an argument"),
]


@pytest.mark.parametrize(("args", "option", "words"), BAD_INPUT)
def test_bad_input_gives_one_line_naming_the_option_and_exit_code_2(
    args: list[str], option: str, words: str
) -> None:
    result = run(args)
    assert result.exit_code == EXIT_INVALID_INPUT, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {option}: "), lines[0]
    assert words in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_term_outside_the_limits_reads_exactly_as_documented() -> None:
    result = run(replace(MORTGAGE, "--term", "400"))
    assert result.stderr == "error: --term: must be between 1 and 360 months, got 400\n"
    assert result.exit_code == 2


def test_several_mistakes_are_named_on_the_same_single_line() -> None:
    args = replace(replace(MORTGAGE, "--principal", "1.234"), "--start", "2026-02-30")
    lines = run(args).stderr.splitlines()
    assert len(lines) == 1
    assert "--principal: " in lines[0] and "; --start: " in lines[0]


def test_an_unknown_command_is_one_line_too() -> None:
    result = run(["frobnicate"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: No such command 'frobnicate'."]


def test_help_is_still_help() -> None:
    result = run(["schedule", "--help"])
    assert result.exit_code == 0
    assert "--balloon-percent" in result.stdout and "等额本息" in result.stdout


# The shared handler, as other commands (`tailguard payoff`) will use it.

@click.group(cls=OneLineErrorGroup)
def toy() -> None:
    """A group with the house error handling."""


@toy.command()
@click.option("--months", type=int, required=True)
@reports_errors(field_options={"extension_months": "--months"})
def extend(months: int) -> None:
    if months > 12:
        raise Refused("extension_cap", f"at most 12 months of extension, asked {months}")
    if months < 1:
        raise InvalidInput([FieldError("extension_months", "out_of_range", "must be positive")])
    click.echo(f"extended by {months}")


@toy.command()
@reports_errors
def bare() -> None:
    raise InvalidInput.one("--anything", "bad", "named as the core names it")


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (["extend", "--months", "13"], EXIT_REFUSED,
         "error: refused (extension_cap): at most 12 months of extension, asked 13"),
        (["extend", "--months", "0"], EXIT_INVALID_INPUT, "error: --months: must be positive"),
        (["extend", "--months", "x"], 2, "error: --months: 'x' is not a valid integer."),
        (["extend"], 2, "error: --months: required but not given"),
        (["bare"], EXIT_INVALID_INPUT, "error: --anything: named as the core names it"),
    ],
)
def test_shared_handler_turns_core_errors_into_one_line(
    args: list[str], code: int, line: str
) -> None:
    result = CliRunner().invoke(toy, args)
    assert (result.exit_code, result.stderr.splitlines()) == (code, [line])
    assert CliRunner().invoke(toy, ["extend", "--months", "3"]).stdout == "extended by 3\n"


def installed_script() -> Path:
    return Path(sys.executable).parent / "tailguard"


def test_installed_script_prints_json_and_one_line_errors() -> None:
    script = installed_script()
    ok = subprocess.run(
        [str(script), *BALLOON, "--json"], capture_output=True, text=True, timeout=60, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["balloon"] == "60000.00"
    bad = subprocess.run(
        [str(script), *replace(BALLOON, "--start", "2026-02-30")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == "error: --start: '2026-02-30' is not a valid date (YYYY-MM-DD)\n"
    usage = subprocess.run(
        [str(script), "schedule", "--method", "weekly"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1 and usage.stderr.startswith("error: --method: ")
    assert "Traceback" not in ok.stderr + bad.stderr + usage.stderr
