"""`tailguard contract …`: issue a loan's contract on demand, list and fetch its documents."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import platform
from tailguard.services import contract_documents


@click.group("contract")
def contract() -> None:
    """Contract documents: the loan contract and its addenda (PDF, in the document store)."""


@contract.command("issue")
@click.argument("loan_id")
@click.option("--language", type=click.Choice(["zh", "en"]), help="Default from settings (zh).")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def issue(loan_id: str, language: str | None, as_json: bool) -> None:
    """Issue the contract of a booked loan that has none (idempotent)."""
    issued = contract_documents.issue_contract(platform(), "cli", loan_id, language=language)
    click.echo(json.dumps(issued.to_dict(), ensure_ascii=False, indent=2) if as_json else
               f"{issued.document_id} sha256 {issued.sha256} ({issued.storage_key})")


@contract.command("list")
@click.argument("loan_id")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def list_documents(loan_id: str, as_json: bool) -> None:
    """The documents of a loan, oldest first."""
    docs = contract_documents.documents_of(platform(), loan_id)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in docs], ensure_ascii=False, indent=2))
        return
    for d in docs:
        click.echo(f"{d.document_id:32} {d.reason:16} {d.sha256}")


@contract.command("get")
@click.argument("loan_id")
@click.option("--version", type=click.IntRange(min=1), help="Default: the latest.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@reports_errors
def get(loan_id: str, version: int | None, out: Path) -> None:
    """Write a stored document (PDF) to OUT."""
    issued, data = contract_documents.document_bytes(platform(), "cli", loan_id, version)
    out.write_bytes(data)
    click.echo(f"{issued.document_id} -> {out}")
