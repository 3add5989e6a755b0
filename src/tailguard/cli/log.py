"""`tailguard log …`: the transparency log of money movements and contract documents
(integrate, keys, receipts, offline verification, audit)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import platform
from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.receipt import (
    contract_document_leaf,
    journal_entry_leaf,
    parse_receipt,
    verify_receipt,
)
from tailguard.contracts.signed_note import VerifierKey
from tailguard.errors import InvalidInput, Refused
from tailguard.infra.document_store import document_store_from_settings
from tailguard.infra.settings import load_settings
from tailguard.services import contract_documents, transparency


@click.group("log")
def log() -> None:
    """The tamper-evident log: journal entries and contracts, signed checkpoints, receipts."""


@log.command("integrate")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def integrate(as_json: bool) -> None:
    """Append the journal entries and contract documents not yet logged, sign a new
    checkpoint and hand it to the notary."""
    result = transparency.integrate(platform())
    doc = {"leaves_added": result.leaves_added, "tree_size": result.tree_size,
           "checkpoint": result.signed_checkpoint, "anchored": result.anchored,
           "anchor_error": result.anchor_error}
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else
               f"{result.leaves_added} records logged; tree size {result.tree_size}; "
               f"{result.anchored} checkpoint(s) anchored"
               + (f"; notary: {result.anchor_error}" if result.anchor_error else ""))


@log.command("vkey")
def vkey() -> None:
    """Print the verifier key(s) of the log in signed-note form."""
    for key in transparency.verifiers(load_settings()):
        click.echo(str(key))


@log.command("receipt")
@click.option("--entry", "entry_id", help="A journal entry id.")
@click.option("--payment", "payment_id", help="A payment id: the receipt of its cash entry.")
@click.option("--contract", "loan_id", help="A loan id: the receipt of its contract document.")
@click.option("--version", type=click.IntRange(min=1),
              help="With --contract: the document version (default the latest).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@reports_errors(field_options={"entry": "--entry"})
def receipt(entry_id: str | None, payment_id: str | None, loan_id: str | None,
            version: int | None, out: Path) -> None:
    """Write a c2sp.org/tlog-proof@v1 receipt to OUT and the document it proves beside it:
    OUT.entry.json for a journal entry, OUT.pdf for a contract document."""
    if sum(1 for v in (entry_id, payment_id, loan_id) if v) != 1:
        raise InvalidInput.one("entry", "one_of",
                               "give exactly one of --entry, --payment and --contract")
    if loan_id:
        plat = platform()
        proof = transparency.receipt_for_contract(plat, loan_id, version)
        issued, pdf = contract_documents.document_bytes(
            plat, "cli", loan_id, proof.version)
        out.write_text(proof.receipt, encoding="utf-8")
        pdf_path = out.with_name(out.name + ".pdf")
        pdf_path.write_bytes(pdf)
        click.echo(f"receipt {out}; document {pdf_path} ({issued.document_id})")
        return
    target = entry_id or f"{payment_id}:receipt"
    result = transparency.receipt_for_entry(platform(), target)
    out.write_text(result.receipt, encoding="utf-8")
    document = out.with_name(out.name + ".entry.json")
    document.write_bytes(result.document)
    click.echo(f"receipt {out}; entry {document}")


@log.command("verify")
@click.argument("receipt_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--document", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The document the receipt is for: the entry's canonical JSON, or the PDF.")
@click.option("--vkey", "vkeys", multiple=True, required=True, help="A trusted verifier key.")
@reports_errors
def verify(receipt_file: Path, document: Path, vkeys: tuple[str, ...]) -> None:
    """Check a receipt offline, with no database: signature, then inclusion of the document."""
    text = receipt_file.read_text(encoding="utf-8")
    try:
        parsed = parse_receipt(text)
        kind, _, identifier = (parsed.extra or b"").decode().partition(" ")
        builders = {transparency.KIND_ENTRY: journal_entry_leaf,
                    transparency.KIND_CONTRACT: contract_document_leaf}
        if kind not in builders or not identifier:
            raise Refused("UNKNOWN_RECEIPT",
                          "the receipt names neither a journal entry nor a contract document")
        keys = [VerifierKey.parse(k) for k in vkeys]
        result = verify_receipt(text, builders[kind](identifier, document.read_bytes()), keys)
    except TransparencyLogError as exc:
        raise Refused("RECEIPT_INVALID", str(exc)) from exc
    click.echo(f"verified: {identifier} is leaf {result.index} of "
               f"{result.checkpoint.origin} at size {result.checkpoint.tree_size}")


@log.command("audit")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def audit(as_json: bool) -> None:
    """Rebuild the log from the stored records and re-hash the stored contract files; exit 1
    naming anything edited or missing."""
    plat = platform()
    findings = transparency.audit(plat, document_store_from_settings(plat.settings))
    if as_json:
        click.echo(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=2))
    else:
        click.echo(f"{len(findings)} finding(s)")
        for f in findings:
            click.echo(f"  {f.code}: {f.reference}: {f.message}")
    if findings:
        raise SystemExit(1)

