"""`tailguard compliance run`: the periodic internal review (定期内部审查) as files for auditors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import parse_day, platform
from tailguard.compliance.registry import REGISTRY
from tailguard.compliance.report import write_reports
from tailguard.compliance.review import run_review
from tailguard.errors import InvalidInput


@click.group("compliance")
def compliance() -> None:
    """Internal compliance review: registered checks, HTML and Excel reports."""


@compliance.command("run")
@click.option("--as-of", "as_of_text", help="The review date (YYYY-MM-DD); default today.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/compliance"), show_default=True,
              help="Folder for compliance-DATE.html and compliance-DATE.xlsx.")
@click.option("--check", "only", multiple=True, help="Run only this check (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"as_of": "--as-of", "check": "--check"})
def run(as_of_text: str | None, out_dir: Path, only: tuple[str, ...], as_json: bool) -> None:
    """Run every registered check as of a date; exit 1 when there are findings."""
    plat = platform()
    as_of = parse_day(as_of_text, "as_of", plat.today())
    unknown = [name for name in only if name not in REGISTRY.names()]
    if unknown:
        raise InvalidInput.one("check", "unknown", f"no check {unknown[0]!r}; known: "
                               + ", ".join(REGISTRY.names()))
    review = run_review(plat, as_of, actor="cli", only=only)
    html, xlsx = write_reports(review, out_dir)
    if as_json:
        click.echo(json.dumps(review.to_dict() | {"html": str(html), "xlsx": str(xlsx)},
                              ensure_ascii=False, indent=2))
    else:
        for result in review.results:
            mark = "ok" if not result.findings else f"{len(result.findings)} finding(s)"
            click.echo(f"{result.check.name:20} {result.check.severity.value:8} {mark}")
        for finding in review.findings:
            click.echo(f"  {finding.severity.value}: {finding.check}: {finding.message}")
        click.echo(f"reports: {html} {xlsx}")
    if review.findings:
        raise SystemExit(1)
