"""`tailguard simulate`: generate a world, drive it through the platform, report its KPIs.

Only translation: options into `tailguard.simulation.session` calls, the result into a table
(or `--json`), plus the files in `--out` (Parquet history, PNG plots, kpis.json).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.errors import InvalidInput, Refused
from tailguard.money import yuan
from tailguard.simulation import session
from tailguard.simulation.config import PRESETS, SimulationConfig


def _pct(value: Any) -> str:
    return "   –  " if value is None else f"{100 * float(value):5.1f}%"


def _table(doc: dict[str, Any]) -> str:
    kpis = doc["kpis"]
    lines = [f"{'month':8} {'loans':>6} {'outstanding':>15} {'30+DPD':>7} {'roll':>7} "
             f"{'cure':>7} {'balloons':>8} {'cleared':>7} {'loss':>13} {'recovery':>13}"]
    for r in kpis["by_month"]:
        lines.append(
            f"{r['month']:8} {r['active_loans']:>6} {yuan(r['principal_outstanding_fen']):>15} "
            f"{_pct(r['dpd30_ratio']):>7} {_pct(r['roll_rate']):>7} {_pct(r['cure_rate']):>7} "
            f"{r['balloons_due']:>8} {_pct(r['balloon_clearance_rate']):>7} "
            f"{yuan(r['loss_fen']):>13} {yuan(r['recovery_fen']):>13}")
    lines.append("")
    lines.append(f"{'province':10} {'loans':>6} {'30+DPD':>7} {'balloons':>8} {'cleared':>7} "
                 f"{'written off':>11} {'loss':>13}")
    for r in kpis["by_region"]:
        lines.append(f"{r['province_code']:10} {r['loans']:>6} {_pct(r['dpd30_ratio']):>7} "
                     f"{r['balloons_due']:>8} {_pct(r['balloon_clearance_rate']):>7} "
                     f"{r['written_off']:>11} {yuan(r['loss_fen']):>13}")
    lines.append("")
    lines.append("totals: " + ", ".join(f"{k}={v}" for k, v in kpis["totals"].items()))
    for name, times in doc.get("timing", {}).items():
        lines.append(f"seconds ({name}): " + ", ".join(f"{k}={v}" for k, v in times.items()))
    if "comparison" in doc:
        lines.append("")
        lines.append(f"champion {doc['config']['name']} / challenger "
                     f"{doc['challenger']['name']}: {doc['comparison']['method']}")
        if doc["comparison"].get("window"):
            lines.append(f"  window: {doc['comparison']['window']}")
        for c in doc["comparison"]["metrics"]:
            show = _amount if c["metric"].endswith("_fen") else _pct
            lines.append(f"  {c['metric']:26} {show(c['champion']):>14} → "
                         f"{show(c['challenger']):>14}  difference {show(c['difference']):>14} "
                         f"[{show(c['low'])}, {show(c['high'])}]")
    return "\n".join(lines)


def _timing(outcome: session.Outcome) -> dict[str, Any]:
    """Seconds by phase (wall clock: printed, never in kpis.json, which a seed reproduces)."""
    c = outcome.simulation.state.counters
    treated = outcome.simulation.state.treatments
    return {"booking": round(c.seconds_booking, 1), "payments": round(c.seconds_payments, 1),
            "eod": round(c.seconds_eod, 1), "other": round(c.seconds_other, 1),
            "treatments": None if treated is None else treated.timing()}


def _amount(value: Any) -> str:
    return "–" if value is None else yuan(round(float(value)))


@click.command("simulate")
@click.option("--loans", type=int, default=1000, show_default=True)
@click.option("--months", type=int, default=24, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--start", "start_text", default=session.DEFAULT_START.isoformat(),
              show_default=True, help="first simulated day")
@click.option("--champion", "champion_name", type=click.Choice(sorted(PRESETS)),
              default="baseline",
              show_default=True, help="the treatment preset of the first run")
@click.option("--challenger", type=click.Choice(sorted(PRESETS)),
              default=None, help="also run this treatment preset on the same world and "
                                 "compare")
@click.option("--warm-up", "warm_up", type=int, default=0, show_default=True,
              help="months simulated untreated before the --months compared (the book "
                   "starts new: a warm-up lets it age, e.g. for balloons to fall due)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/simulation"), show_default=True)
@click.option("--database", "database_url", default=None,
              help="database URL (default: a SQLite file in --out); a run resumes from the "
                   "checkpoint next to a SQLite database")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def simulate(loans: int, months: int, seed: int, start_text: str, champion_name: str,
             challenger: str | None, warm_up: int, out_dir: Path, database_url: str | None,
             as_json: bool) -> None:
    """Simulate a cross-region balloon portfolio through the platform and report its KPIs.

    With --challenger, the same world runs under a second treatment preset and the two are
    compared (paired bootstrap, 95 % intervals) over the months after --warm-up."""
    if not 1 <= loans <= 1_000_000:
        raise InvalidInput.one("loans", "out_of_range", "must be between 1 and 1000000")
    if not 1 <= months <= 120:
        raise InvalidInput.one("months", "out_of_range", "must be between 1 and 120")
    if not 0 <= warm_up <= 120:
        raise InvalidInput.one("warm_up", "out_of_range", "must be between 0 and 120")
    if challenger is not None and challenger == champion_name:
        raise InvalidInput.one("challenger", "same", "choose a preset other than the champion")
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        raise InvalidInput.one("start", "invalid_date", f"{start_text!r} is not a date") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{out_dir / 'simulation.db'}"
    if champion_name != "baseline" and database_url is None:
        url = session.sibling_url(url, champion_name)
    env = {"TAILGUARD_DOCUMENT_ROOT": str(out_dir / "documents"),
           "TAILGUARD_NOTARY": f"folder:{out_dir / 'notary'}"}
    config = SimulationConfig(loans, months + warm_up, seed).challenger(champion_name)
    config = replace(config, treatments=replace(config.treatments, from_month=warm_up))
    days = 0

    def tick(_: date) -> None:
        nonlocal days
        days += 1
        if not as_json and days % 30 == 0:
            click.echo(f"  … {days} days", err=True)

    try:
        champion = session.run(config, url, start, progress=tick, env=env)
    except ValueError as exc:  # a checkpoint of another simulation next to this database
        raise Refused("CHECKPOINT_MISMATCH", f"{exc}: use another --out or --database") from exc
    from tailguard.simulation.export import write_exports, write_json, write_plots

    write_exports(champion.simulation, champion.platform, out_dir / "champion")
    other = compared = None
    if challenger is not None:
        other = session.run(config.challenger(challenger), session.sibling_url(url, challenger),
                            start, world=champion.simulation.world, progress=tick, env=env)
        write_exports(other.simulation, other.platform, out_dir / challenger)
        compared = session.comparison(champion, other, since_month=warm_up)
    doc = session.document(champion, compared, other, since_month=warm_up)
    write_json(doc, out_dir / "kpis.json")
    ratios = [c for c in compared or [] if not c.metric.endswith("_fen")] or None
    doc["plots"] = write_plots(champion.kpis, out_dir, ratios,
                               other.kpis if other else None,
                               (champion_name, challenger or "challenger"))
    doc["out"] = str(out_dir)
    doc["timing"] = {name: _timing(outcome) for name, outcome in
                     ((champion_name, champion), (challenger, other)) if outcome is not None}
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str) if as_json
               else _table(doc))
