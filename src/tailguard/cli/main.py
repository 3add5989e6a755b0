"""The `tailguard` command group: the composition root of the command line.

Every command is registered here, on a group whose usage errors are one line each (see
`tailguard.cli.errors`), so a script calling any `tailguard` command can rely on the same
contract: results on stdout, one ``error: --option: ...`` line on stderr, exit code 2 for input
to fix.
"""

from __future__ import annotations

import warnings

import click

from tailguard.cli.application import application
from tailguard.cli.calculator import schedule
from tailguard.cli.collections import collections
from tailguard.cli.compliance import compliance
from tailguard.cli.contracts import contract
from tailguard.cli.errors import OneLineErrorGroup
from tailguard.cli.log import log
from tailguard.cli.monitoring import signals
from tailguard.cli.notify import notify
from tailguard.cli.operations import db, demo, eod, ledger_group, loan, payment, reconcile
from tailguard.cli.payoff import payoff
from tailguard.cli.risk import risk
from tailguard.cli.server import serve, user
from tailguard.cli.simulate import simulate


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    line: str | None = None,
) -> str:
    """Warnings on the command line are one line each, like errors (no source excerpt)."""
    return f"warning: {message}\n"


warnings.formatwarning = _one_line_warning


@click.group(cls=OneLineErrorGroup)
@click.version_option(package_name="tailguard")
def main() -> None:
    """tailguard: servicing and recovery for balloon auto loans."""


main.add_command(schedule)
main.add_command(payoff)
for command in (db, loan, payment, ledger_group, reconcile, eod, demo, user, serve, log):
    main.add_command(command)
main.add_command(contract)
main.add_command(compliance)
main.add_command(simulate)
main.add_command(risk)
main.add_command(application)
main.add_command(notify)
main.add_command(signals)
main.add_command(collections)
