"""The report's one self-contained HTML page (plotly.js inlined once, every figure interactive)."""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from typing import Any

__all__ = ["render_html"]

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 4px 0; }
h2 { font-size: 20px; margin-top: 36px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; font-size: 14px; }
nav a { margin-right: 14px; font-size: 14px; }
.summary { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; }
.summary li { margin: 4px 0; }
.scale-tag { display: inline-block; min-width: 72px; font-weight: bold; }
.route { color: #555; font-size: 13px; }
table.findings { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
table.findings th, table.findings td { border-bottom: 1px solid #e4e4e4; padding: 4px 8px; text-align: left;
  vertical-align: top; }
table.findings th { background: #f0f0f0; }
table.findings td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.status { color: #8a5a00; background: #fff6e0; border: 1px solid #f0d8a0; border-radius: 4px; padding: 6px 10px; }
figure { margin: 18px 0; background: #fff; border: 1px solid #e4e4e4; border-radius: 6px; padding: 8px; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
figcaption a { color: #0072B2; }
footer { color: #666; font-size: 12px; padding: 24px; }
"""


def _findings_table(findings: Any, with_truth: bool) -> str:
    head = ["scale", "finding", "value", "unit"] + (["truth (twin)"] if with_truth else []) + ["note"]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in findings.itertuples(index=False):
        cells = [
            f"<td>{html.escape(r.scale)}</td>",
            f"<td>{html.escape(r.finding)}</td>",
            f"<td class='num'>{html.escape(r.text)}</td>",
            f"<td>{html.escape(r.unit)}</td>",
        ]
        if with_truth:
            cells.append(f"<td class='num'>{html.escape(r.truth_text)}</td>")
        cells.append(f"<td>{html.escape(r.note)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table class='findings'>" + "\n".join(rows) + "</table>"


def _figure_html(fig: Any, links: list[Path]) -> str:
    import plotly.io as pio

    div = pio.to_html(
        fig.figure, include_plotlyjs=False, full_html=False, div_id=f"fig-{fig.name}",
        default_width="100%", default_height=f"{fig.height}px",
        config={"displaylogo": False, "responsive": True,
                "toImageButtonOptions": {"filename": fig.name, "width": fig.width, "height": fig.height}},
    )
    files = " · ".join(f"<a href='{html.escape(p.as_posix())}'>{p.suffix[1:].upper()}</a>" for p in links)
    caption = html.escape(fig.caption) + (f" — {files}" if files else "")
    return f"<figure id='{fig.name}'>{div}<figcaption><b>{fig.name}</b>: {caption}</figcaption></figure>"


def render_html(report: Any, static: dict[str, list[Path]], static_message: str) -> str:
    """The report page: summary, findings table, one section per scale with its figures.

    Parameters
    ----------
    report : ZoomReport
    static : dict of figure name -> paths relative to the page (PNG, SVG)
    static_message : str
        How the static export went (shown in the footer).
    """
    from plotly.offline import get_plotlyjs

    from .. import __version__

    title = f"batteryzoom report — {report.dataset}"
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    nav = " ".join(
        f"<a href='#scale-{s}'>{k + 1}. {s}</a>" for k, s in enumerate(report.scales)
    )
    summary = "\n".join(
        f"<li><span class='scale-tag'>{html.escape(s)}</span> "
        f"{html.escape(r.values.get('summary', '') if r.status == 'done' else r.status + ': ' + r.text)}"
        + (f"<br><span class='route'>from: {html.escape(r.values['route'])}</span>" if r.values.get("route") else "")
        + "</li>"
        for s, r in report.scales.items()
    )
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        # plotly.js once, inline: the page works offline and alone
        f"<script type='text/javascript'>{get_plotlyjs()}</script>",
        "</head><body>",
        "<header>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{html.escape(report.description)}.<br>batteryzoom {__version__}, {when}; the zoom "
        f"took {report.seconds:.0f} s. {len(report.figures)} figures.</p>",
        f"<nav><a href='#summary'>summary</a> <a href='#findings'>findings</a> {nav}</nav>",
        "</header><main>",
        "<h2 id='summary'>Summary</h2>",
        f"<div class='summary'><ul>{summary}</ul></div>",
        "<h2 id='findings'>Findings at each scale</h2>",
        "<p class='meta'>" + ("Synthetic twin: each finding beside its ground truth." if report.is_twin
                              else "Your data: findings of each scale present.") + "</p>",
        _findings_table(report.findings, report.is_twin),
    ]
    for k, (scale, res) in enumerate(report.scales.items()):
        parts.append(f"<h2 id='scale-{scale}'>{k + 1}. {html.escape(res.title)}</h2>")
        if res.values.get("route"):
            parts.append(f"<p class='route'>Input: {html.escape(res.values['route'])}.</p>")
        if res.status == "done":
            parts.append(f"<p>{res.text}</p>")  # written by the report itself (may hold <b>)
        else:
            parts.append(f"<p class='status'>{html.escape(res.status)}: {html.escape(res.text)}</p>")
        rows = report.findings[report.findings["scale"] == scale]
        if len(rows):
            parts.append(_findings_table(rows, report.is_twin))
        for name in res.figures:
            parts.append(_figure_html(report.figures[name], static.get(name, [])))
    parts += [
        "</main><footer>",
        f"<p>Static figures: {html.escape(static_message)}.</p>",
        "<p>Made with batteryzoom: a macro-to-nano zoom through battery degradation.</p>",
        "</footer></body></html>",
    ]
    return "\n".join(parts)
