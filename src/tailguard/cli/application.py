"""`tailguard application …`: submit, show and decide applications, replay a decision.

The application file is the JSON body of `POST /api/v1/applications` (same schema, checked by
the same pydantic model), so a dealer's export works in both. Overrides are not offered here:
they need two named people, which the API's logins give and a shell does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from tailguard.api.routes_origination import ApplicationBody, to_application
from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import platform
from tailguard.errors import FieldError, InvalidInput
from tailguard.services import origination


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _summary(decision: dict[str, Any]) -> str:
    lines = [f"{decision['decision_id']}: {decision['outcome']}"]
    for reason in decision["result"]["reasons"]:
        lines.append(f"  - {reason['code']}: {reason['zh']} / {reason['en']}")
    for condition in decision["result"]["conditions"]:
        lines.append(f"  condition {condition['code']} = {condition['value']}")
    return "\n".join(lines)


@click.group("application")
def application() -> None:
    """Pre-loan review: applications and credit decisions (docs/origination.md)."""


@application.command("submit")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@reports_errors
def submit(file: Path) -> None:
    """Check and store the application in FILE (JSON, the API's body); print its id."""
    try:
        body = ApplicationBody.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        raise InvalidInput([
            FieldError(".".join(str(p) for p in e["loc"]) or "body", e["type"], e["msg"])
            for e in exc.errors()]) from None
    click.echo(origination.submit_application(platform(), "cli", to_application(body)))


@application.command("show")
@click.argument("application_id")
@reports_errors
def show(application_id: str) -> None:
    """The application: facts, masked parties, documents, decisions."""
    _echo(origination.get_application(platform(), application_id))


@application.command("decide")
@click.argument("application_id")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def decide(application_id: str, as_json: bool) -> None:
    """Decide the application now (third parties, regional policy, score)."""
    decision = origination.decide_application(platform(), "cli", application_id).to_dict()
    if as_json:
        _echo(decision)
    else:
        click.echo(_summary(decision))


@application.command("replay")
@click.argument("decision_id")
@reports_errors
def replay(decision_id: str) -> None:
    """Run the engine again on a decision's stored inputs; exit 1 if the result differs."""
    result = origination.replay_decision(platform(), decision_id)
    click.echo(f"{decision_id}: {'same' if result.same else 'DIFFERENT'} "
               f"(stored {result.stored['outcome']}, replayed {result.replayed['outcome']}, "
               f"rescored {result.rescored})")
    if not result.same:
        raise SystemExit(1)
