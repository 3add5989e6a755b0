"""`tailguard collections report`: the collections report for a period, as text or JSON."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import parse_day, platform
from tailguard.money import yuan
from tailguard.services.recovery_reports import collections_report


@click.group("collections")
def collections() -> None:
    """Collections and recovery: reports."""


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@collections.command("report")
@click.option("--from", "from_text", help="First day (YYYY-MM-DD); default a year before --to.")
@click.option("--to", "to_text", help="Last day (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"from": "--from", "to": "--to"})
def report(from_text: str | None, to_text: str | None, as_json: bool) -> None:
    """Roll and cure rates, promise-kept and right-party contact rates, recovery and cost by
    team, agency and region, balloon clearance."""
    plat = platform()
    end = parse_day(to_text, "to", plat.today())
    start = parse_day(from_text, "from", end - timedelta(days=365))
    result = collections_report(plat, start, end)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"collections {result['from']} .. {result['to']}")
    roll = result["roll_rates"]
    click.echo("roll forward:  " + "  ".join(f"{b} {_pct(v)}" for b, v in roll["forward"].items()))
    click.echo(f"cure rate:     loans {_pct(result['cure_rate']['loans'])}, "
               f"cases {_pct(result['cure_rate']['cases']['rate'])}")
    click.echo(f"promises kept: {_pct(result['promise_kept_rate']['rate'])} "
               f"of {result['promise_kept_rate']['kept'] + result['promise_kept_rate']['broken']}")
    rpc = result["right_party_contact_rate"]
    click.echo(f"right-party:   {_pct(rpc['rate'])} of {rpc['calls_made']} calls")
    rec = result["recovery"]
    click.echo(f"recovered:     {yuan(rec['recovered_fen'])} at a cost of {yuan(rec['cost_fen'])}")
    for name in ("team", "agency", "region"):
        for row in rec[f"by_{name}"]:
            click.echo(f"  {name:7} {row['key']:14} {yuan(row['recovered_fen']):>16} "
                       f"cost {yuan(row['cost_fen']):>14}  cases {row['cases']}")
    bc = result["balloon_clearance"]
    click.echo(f"balloon clearance: {_pct(bc['rate'])} of {bc['due']}")
