"""`tailguard log …`: the transparency log of money movements (integrate, keys, receipts,
offline verification, audit)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import platform
from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.receipt import journal_entry_leaf, parse_receipt, verify_receipt
from tailguard.contracts.signed_note import VerifierKey
from tailguard.errors import InvalidInput, Refused
from tailguard.infra.settings import load_settings
from tailguard.services import transparency


@click.group("log")
def log() -> None:
    """The tamper-evident log: every journal entry, signed checkpoints, receipts."""


@log.command("integrate")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def integrate(as_json: bool) -> None:
    """Append the journal entries not yet logged and sign a new checkpoint."""
    result = transparency.integrate(platform())
    doc = {"leaves_added": result.leaves_added, "tree_size": result.tree_size,
           "checkpoint": result.signed_checkpoint}
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else
               f"{result.leaves_added} entries logged; tree size {result.tree_size}")


@log.command("vkey")
def vkey() -> None:
    """Print the verifier key(s) of the log in signed-note form."""
    for key in transparency.verifiers(load_settings()):
        click.echo(str(key))


@log.command("receipt")
@click.option("--entry", "entry_id", help="A journal entry id.")
@click.option("--payment", "payment_id", help="A payment id: the receipt of its cash entry.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@reports_errors(field_options={"entry": "--entry"})
def receipt(entry_id: str | None, payment_id: str | None, out: Path) -> None:
    """Write a c2sp.org/tlog-proof@v1 receipt to OUT and the entry it proves to OUT.entry.json."""
    if bool(entry_id) == bool(payment_id):
        raise InvalidInput.one("entry", "one_of", "give exactly one of --entry and --payment")
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
              help="The entry (canonical JSON) the receipt is for.")
@click.option("--vkey", "vkeys", multiple=True, required=True, help="A trusted verifier key.")
@reports_errors
def verify(receipt_file: Path, document: Path, vkeys: tuple[str, ...]) -> None:
    """Check a receipt offline, with no database: signature, then inclusion of the document."""
    text = receipt_file.read_text(encoding="utf-8")
    try:
        parsed = parse_receipt(text)
        kind, _, identifier = (parsed.extra or b"").decode().partition(" ")
        if kind != transparency.KIND_ENTRY or not identifier:
            raise Refused("UNKNOWN_RECEIPT", "the receipt does not name a journal entry")
        keys = [VerifierKey.parse(k) for k in vkeys]
        result = verify_receipt(text, journal_entry_leaf(identifier, document.read_bytes()),
                                keys)
    except TransparencyLogError as exc:
        raise Refused("RECEIPT_INVALID", str(exc)) from exc
    click.echo(f"verified: {identifier} is leaf {result.index} of "
               f"{result.checkpoint.origin} at size {result.checkpoint.tree_size}")


@log.command("audit")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def audit(as_json: bool) -> None:
    """Rebuild the log from the stored records; exit 1 naming anything edited or missing."""
    findings = transparency.audit(platform())
    if as_json:
        click.echo(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=2))
    else:
        click.echo(f"{len(findings)} finding(s)")
        for f in findings:
            click.echo(f"  {f.code}: {f.reference}: {f.message}")
    if findings:
        raise SystemExit(1)

