"""The review as files for auditors: an HTML page (jinja2) and an Excel workbook (openpyxl).

Both carry the same content: a summary per check (severity, description, number of findings)
and every finding (check, severity, reference, message), most severe first. The HTML is one
self-contained file (inline style, no script, nothing fetched), so it opens offline.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from tailguard.compliance.registry import Finding
from tailguard.compliance.review import Review

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>合规检查报告 Compliance review {{ review.as_of }}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}.critical{color:#a00;font-weight:bold}.high{color:#c40}
.medium{color:#a70}.ok{color:#070}
</style></head><body>
<h1>定期内部审查 · Internal compliance review</h1>
<p>As of <strong>{{ review.as_of }}</strong>, generated {{ review.generated_at }}.
{% if review.passed %}<span class="ok">No findings.</span>
{% else %}<strong>{{ review.findings|length }} finding(s).</strong>{% endif %}</p>
<h2>Checks</h2>
<table><tr><th>check</th><th>severity</th><th>what it checks</th><th>findings</th></tr>
{% for r in review.results %}<tr><td>{{ r.check.name }}</td>
<td class="{{ r.check.severity.value }}">{{ r.check.severity.value }}</td>
<td>{{ r.check.description }}</td>
<td>{{ r.findings|length }}{% if r.error %} (could not run){% endif %}</td></tr>
{% endfor %}</table>
<h2>Findings</h2>
{% if findings %}<table><tr><th>severity</th><th>check</th><th>reference</th><th>finding</th></tr>
{% for f in findings %}<tr><td class="{{ f.severity.value }}">{{ f.severity.value }}</td>
<td>{{ f.check }}</td><td>{{ f.reference }}</td><td>{{ f.message }}</td></tr>
{% endfor %}</table>{% else %}<p class="ok">None.</p>{% endif %}
</body></html>
"""


def _sorted(review: Review) -> list[Finding]:
    return sorted(review.findings, key=lambda f: (f.severity.rank, f.check, f.reference))


def render_html(review: Review) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_TEMPLATE).render(review=review, findings=_sorted(review))


def write_workbook(review: Review, path: Path) -> None:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    summary.append(["as of", review.as_of.isoformat()])
    summary.append(["generated", review.generated_at.isoformat()])
    summary.append(["findings", len(review.findings)])
    summary.append([])
    summary.append(["check", "severity", "what it checks", "findings", "error"])
    header_row = summary.max_row
    for r in review.results:
        summary.append([r.check.name, r.check.severity.value, r.check.description,
                        len(r.findings), r.error or ""])
    findings = book.create_sheet("Findings")
    findings.append(["severity", "check", "reference", "finding"])
    for f in _sorted(review):
        findings.append([f.severity.value, f.check, f.reference, f.message])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="F0F0F0")
    for sheet, row in ((summary, header_row), (findings, 1)):
        for cell in sheet[row]:
            cell.font = bold
            cell.fill = fill
        for index, width in enumerate((24, 12, 40, 90, 30), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
    findings.freeze_panes = "A2"
    book.save(path)


def write_reports(review: Review, out_dir: Path) -> tuple[Path, Path]:
    """`compliance-<as_of>.html` and `.xlsx` in `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"compliance-{review.as_of.isoformat()}"
    html = out_dir / f"{stem}.html"
    html.write_text(render_html(review), encoding="utf-8")
    xlsx = out_dir / f"{stem}.xlsx"
    write_workbook(review, xlsx)
    return html, xlsx
