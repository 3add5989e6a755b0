"""Risk and compliance in the console: the collection strategy and the early-warning rules
edited as versioned text (JSON or YAML) and saved as a new version through their services,
the champion/challenger read-out, model monitoring, vintage curves and the internal
compliance review.

The editors check nothing themselves beyond reading the text: `Strategy.parse` (through
`recovery_strategies.save_strategy`) and `alerts.replace_rules` name every wrong field. A
failed save comes back with the text as typed and the errors beside the text box.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tailguard.definitions import read_definition
from tailguard.errors import FieldError, InvalidInput, Refused
from tailguard.recovery.uplift import wilson
from tailguard.services import alerts, console_views, recovery_strategies, vintages
from tailguard.web import console_charts, i18n
from tailguard.web.common import (
    FormErrors,
    check_csrf,
    language,
    platform_of,
    redirect,
    render,
    staff,
)
from tailguard.web.console_support import (
    COMPLIANCE_READERS,
    COMPLIANCE_RUNNERS,
    MODEL_READERS,
    RULE_EDITORS,
    RULE_READERS,
    STRATEGY_EDITORS,
    STRATEGY_READERS,
    VINTAGE_READERS,
)

router = APIRouter(prefix="/console", include_in_schema=False)
FORMATS = ("yaml", "json")
MAX_TEXT = 200_000
VINTAGE_COHORTS = 24


def _data_of(text: str, fmt: str) -> Any:
    """The text as data (JSON, or YAML with PyYAML's safe loader), or InvalidInput naming
    the line."""
    if fmt not in FORMATS:
        raise InvalidInput.one("format", "invalid", "json or yaml")
    if not text.strip():
        raise InvalidInput.one("definition", "required", "the definition is empty")
    if len(text) > MAX_TEXT:
        raise InvalidInput.one("definition", "too_long", f"at most {MAX_TEXT} characters")
    return read_definition(text, fmt)


def _text_of(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    import yaml  # type: ignore[import-untyped]

    return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _editor_errors(exc: InvalidInput | Refused, lang: str) -> FormErrors:
    """Errors of a definition beside its text box: each wrong field by its path in the
    definition (`segments[0].path: …`), the format beside the format choice."""
    if isinstance(exc, Refused):
        return FormErrors({}, [i18n.refusal(lang, exc.code, exc.message)])
    fields: dict[str, str] = {}
    inside: list[str] = []
    for e in exc.errors:
        if e.field in ("format", "note"):
            fields[e.field] = i18n.field_error(lang, e.field, e.code, e.message)
        elif e.field == "definition":
            text = i18n.field_error(lang, e.field, e.code, e.message)
            # A syntax error keeps the parser's words (line and column) after the summary.
            inside.append(text if text == e.message else f"{text}（{e.message}）")
        else:
            inside.append(f"{e.field}: {e.message}")
    if inside:
        fields["definition"] = "; ".join(inside)
    return FormErrors(fields, [])


# -- the strategy editor ---------------------------------------------------------------------
def _strategy_page(request: Request, text: str | None = None, fmt: str = "yaml",
                   errors: FormErrors | None = None, notice: str = "",
                   status_code: int = 200) -> HTMLResponse:
    user = staff(request, *STRATEGY_READERS)
    listed = recovery_strategies.list_strategies(platform_of(request))
    active = listed["active"]
    if text is None:
        text = _text_of(active["definition"], fmt)
    return render(request, "console_editor.html", {
        "user": user, "kind": "strategy", "action": "/console/strategy",
        "version": active["version"], "name": active["name"], "versions": listed["versions"],
        "text": text, "format": fmt, "formats": FORMATS, "note": "",
        "may_edit": user.role in STRATEGY_EDITORS, "errors": errors or FormErrors.none(),
        "notice": notice, "expected_version": None}, status_code)


@router.get("/strategy")
def strategy_page(request: Request,
                  format: Annotated[str, Query(max_length=8)] = "yaml",
                  done: Annotated[str, Query(max_length=10)] = "") -> HTMLResponse:
    return _strategy_page(request, fmt=format if format in FORMATS else "yaml",
                          notice="saved" if done == "saved" else "")


@router.post("/strategy")
def save_strategy(
    request: Request,
    definition: Annotated[str, Form(max_length=MAX_TEXT + 1)] = "",
    format: Annotated[str, Form(max_length=8)] = "yaml",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = staff(request, *STRATEGY_EDITORS)
    try:
        data = _data_of(definition, format)
        if not isinstance(data, dict):
            raise InvalidInput.one("definition", "not_mapping",
                                   "the strategy is a mapping of its fields (name, paths, …)")
        recovery_strategies.save_strategy(platform_of(request), user.subject, data)
    except (InvalidInput, Refused) as exc:
        return _strategy_page(request, definition, format if format in FORMATS else "yaml",
                              _editor_errors(exc, language(request)), status_code=422)
    return redirect(f"/console/strategy?format={format}&done=saved")


# -- the early-warning rules editor ----------------------------------------------------------
def _rules_page(request: Request, text: str | None = None, fmt: str | None = None,
                note: str = "", errors: FormErrors | None = None, notice: str = "",
                expected: int | None = None, status_code: int = 200) -> HTMLResponse:
    user = staff(request, *RULE_READERS)
    current = alerts.read_rules(platform_of(request))
    if text is None:
        fmt = fmt or (current["format"] if current["source"] else "yaml")
        text = current["source"] if current["source"] and fmt == current["format"] \
            else _text_of({"rules": current["rules"]}, fmt)
    return render(request, "console_editor.html", {
        "user": user, "kind": "rules", "action": "/console/rules",
        "version": current["version"], "name": "", "versions": [],
        "current": current, "text": text, "format": fmt or "yaml", "formats": FORMATS,
        "note": note, "may_edit": user.role in RULE_EDITORS,
        "errors": errors or FormErrors.none(), "notice": notice,
        "expected_version": current["version"] if expected is None else expected},
        status_code)


@router.get("/rules")
def rules_page(request: Request, format: Annotated[str, Query(max_length=8)] = "",
               done: Annotated[str, Query(max_length=10)] = "") -> HTMLResponse:
    return _rules_page(request, fmt=format if format in FORMATS else None,
                       notice="saved" if done == "saved" else "")


@router.post("/rules")
def save_rules(
    request: Request,
    definition: Annotated[str, Form(max_length=MAX_TEXT + 1)] = "",
    format: Annotated[str, Form(max_length=8)] = "yaml",
    note: Annotated[str, Form(max_length=300)] = "",
    expected_version: Annotated[str, Form(max_length=12)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A new version of the rules, in force from the commit. `expected_version` is the
    version the editor was opened on: if someone saved meanwhile, the save is refused and the
    text kept, rather than silently replacing their version."""
    check_csrf(request, csrf)
    user = staff(request, *RULE_EDITORS)
    expected = int(expected_version) if expected_version.isdigit() else None
    try:
        if format not in FORMATS:
            raise InvalidInput.one("format", "invalid", "json or yaml")
        if not definition.strip():
            raise InvalidInput.one("definition", "required", "the definition is empty")
        alerts.replace_rules(platform_of(request), user.subject, definition, fmt=format,
                             note=note.strip() or None, expected_version=expected)
    except (InvalidInput, Refused) as exc:
        return _rules_page(request, definition, format if format in FORMATS else "yaml",
                           note, _editor_errors(exc, language(request)), expected=expected,
                           status_code=422)
    return redirect("/console/rules?done=saved")


# -- champion / challenger -------------------------------------------------------------------
@router.get("/champion-challenger")
def champion_challenger_page(request: Request,
                             segment: Annotated[str, Query(max_length=40)] = ""
                             ) -> HTMLResponse:
    user = staff(request, *STRATEGY_READERS)
    platform = platform_of(request)
    result = recovery_strategies.champion_challenger(platform, segment or None)
    arms = []
    for arm, counts in result["arms"].items():
        n, cured = counts["cases"], counts["cured"]
        low, high = wilson(cured, n)
        arms.append({"arm": arm, "cases": n, "cured": cured,
                     "rate": cured / n if n else None, "low": low if n else None,
                     "high": high if n else None})
    segments = sorted({r["segment"] for r in recovery_strategies.uplift_table(platform)
                       if r["segment"]})
    return render(request, "console_cc.html", {
        "user": user, "arms": arms, "segment": segment, "segments": segments,
        "comparisons": [result["challenger_vs_champion"], result["champion_vs_holdout"]],
        "assignment": recovery_strategies.uplift_table(platform)})


# -- model monitoring -------------------------------------------------------------------------
@router.get("/models")
def models_page(request: Request) -> HTMLResponse:
    user = staff(request, *MODEL_READERS)
    monitoring = console_views.model_monitoring(platform_of(request))
    return render(request, "console_models.html", {"user": user, "m": monitoring})


# -- vintage curves ---------------------------------------------------------------------------
@router.get("/vintages")
def vintages_page(request: Request) -> HTMLResponse:
    user = staff(request, *VINTAGE_READERS)
    platform = platform_of(request)
    lang = language(request)
    with platform.engine.connect() as conn:
        curves = vintages.vintage_curves(conn, platform.today())
    shown = [v for v in curves if v.rates][-VINTAGE_COHORTS:]
    chart = console_charts.line_chart(
        [(f"{v.cohort} ({v.loans})", v.rates) for v in shown],
        i18n.translate(lang, "vintage.chart"), "vintage",
        i18n.translate(lang, "vintage.mob"))
    longest = max((len(v.rates) for v in shown), default=0)
    return render(request, "console_vintages.html", {
        "user": user, "curves": curves, "shown": shown, "chart": chart,
        "months": list(range(1, longest + 1)), "as_of": platform.today(),
        "threshold": vintages.DPD_THRESHOLD})


# -- compliance ------------------------------------------------------------------------------
def _review(request: Request, as_of_text: str) -> tuple[Any, FormErrors]:
    from tailguard.compliance.review import run_review

    platform = platform_of(request)
    try:
        as_of = date.fromisoformat(as_of_text) if as_of_text else platform.today()
    except ValueError:
        lang = language(request)
        return None, FormErrors.of(InvalidInput([FieldError(
            "as_of", "format", "a date, YYYY-MM-DD")]), lang)
    user = staff(request, *COMPLIANCE_RUNNERS)
    return run_review(platform, as_of, actor=user.subject), FormErrors.none()


@router.get("/compliance")
def compliance_page(request: Request) -> HTMLResponse:
    user = staff(request, *COMPLIANCE_READERS)
    return render(request, "console_compliance.html", {
        "user": user, "review": None, "as_of": platform_of(request).today().isoformat(),
        "may_run": user.role in COMPLIANCE_RUNNERS})


@router.post("/compliance")
def run_compliance(request: Request, as_of: Annotated[str, Form(max_length=10)] = "",
                   csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """Run every registered check as of the day (the CLI's `tailguard compliance run`); the
    run is audited by the review itself."""
    check_csrf(request, csrf)
    user = staff(request, *COMPLIANCE_RUNNERS)
    review, errors = _review(request, as_of.strip())
    findings = [] if review is None else sorted(
        review.findings, key=lambda f: (f.severity.rank, f.check, f.reference))
    return render(request, "console_compliance.html", {
        "user": user, "review": review, "findings": findings, "as_of": as_of,
        "may_run": True, "errors": errors}, 422 if errors else 200)


@router.get("/compliance/report.xlsx")
def compliance_workbook(request: Request,
                        as_of: Annotated[str, Query(max_length=10)] = "") -> Response:
    """The review as the auditors' workbook (`compliance.report.write_workbook`)."""
    from tailguard.compliance.report import write_workbook

    staff(request, *COMPLIANCE_RUNNERS)
    review, _ = _review(request, as_of.strip())
    if review is None:
        return render(request, "error.html", {"message_key": "error.404"}, 404)
    with tempfile.TemporaryDirectory(prefix="tailguard-compliance-") as folder:
        path = Path(folder) / "review.xlsx"
        write_workbook(review, path)
        data = path.read_bytes()
    filename = f"compliance-{review.as_of.isoformat()}.xlsx"
    return Response(data, media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
