"""The printable HTML report: tables and matplotlib charts inlined as SVG, no script, nothing fetched."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html import escape

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from callout import durations
from callout.report import KINDS, Report, TeamReport, period_label, summary_rows

COLORS = ("#1f4e79", "#6a9fcb", "#c55a11", "#7f7f7f", "#548235", "#bf9000", "#7030a0", "#2e75b6")
# Every key matplotlib would otherwise write into the SVG's <metadata>, the date among them.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_ID = re.compile(r'(id="|url\(#|xlink:href="#)([^")]+)')

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #222; margin: 2em; max-width: 60em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #999; margin-top: 2em; page-break-before: auto; }
p.period { margin-top: 0; color: #444; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; white-space: pre; }
thead th { background: #e8eef5; }
td.total, th.total { font-weight: bold; }
figure { margin: 1em 0; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #444; }
.note { font-size: 0.8em; color: #555; }
@media print { body { margin: 0; } section.team { page-break-after: always; } }
"""


def render_html(report: Report) -> str:
    """Render the report as one self-contained, printable HTML page with inline SVG charts."""
    title = f"Peer support statistics, {period_label(report)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="period">Period: {escape(report.start.isoformat())} to {escape(report.end.isoformat())}'
        " (both days included)</p>",
        '<p class="note">Anonymous statistics: counts only, nothing that identifies a person who asked for'
        " support. Outcomes are as they stood at the end of the period; contacts are counted in the month"
        " they were closed.</p>",
    ]
    for index, team in enumerate(report.teams):
        parts.append(team_section(team, f"t{index}"))
    if not report.teams:
        parts.append("<p>No teams.</p>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def team_section(team: TeamReport, prefix: str) -> str:
    """Render one team's heading, table and charts (ids in the charts start with prefix)."""
    header = "".join(f"<th>{escape(m.month)}</th>" for m in team.months)
    body = []
    for label, values in summary_rows(team):
        cells = "".join(f"<td>{escape(v)}</td>" for v in values[:-1])
        body.append(f'<tr><td>{escape(label)}</td>{cells}<td class="total">{escape(values[-1])}</td></tr>')
    charts = [
        ("Requests per month, by kind", _requests_chart),
        ("Contacts by content area", _areas_chart),
        ("Time to acceptance", _acceptance_chart),
    ]
    figures = [
        f"<figure><figcaption>{escape(caption)}</figcaption>{_svg(draw, team, f'{prefix}c{n}')}</figure>"
        for n, (caption, draw) in enumerate(charts)
    ]
    return "\n".join(
        [
            '<section class="team">',
            f"<h2>{escape(team.name)}</h2>",
            f'<p class="period">Months in {escape(team.timezone)}</p>',
            "<table>",
            f'<thead><tr><th>Figure</th>{header}<th class="total">Total</th></tr></thead>',
            "<tbody>",
            *body,
            "</tbody>",
            "</table>",
            *figures,
            "</section>",
        ]
    )


def _svg(draw: Callable[[Axes, TeamReport], None], team: TeamReport, prefix: str) -> str:
    """Draw one chart and return it as an inline <svg> element whose ids are unique in the page."""
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix, "font.size": 9}):
        figure = Figure(figsize=(7, 3.2))
        FigureCanvasAgg(figure)
        draw(figure.add_subplot(), team)
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata=_NO_METADATA)
    svg = out.getvalue()
    svg = svg[svg.index("<svg") :]
    # Inline SVG in HTML needs no namespace declarations; dropping them leaves no URL in the page.
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return _ID.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg).strip()


def _style(ax: Axes) -> None:
    """Give an axes the plain look of a printed report."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _requests_chart(ax: Axes, team: TeamReport) -> None:
    """Draw the requests of each month as bars stacked by kind."""
    months = [m.month for m in team.months]
    # Numeric positions with month labels: matplotlib would take "2026-03" strings for dates.
    positions = list(range(len(months)))
    bottom = [0] * len(months)
    for kind, color in zip(KINDS, COLORS, strict=False):
        values = [dict(m.figures.by_kind).get(kind, 0) for m in team.months]
        ax.bar(positions, values, bottom=bottom, label=kind, color=color)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("requests")
    ax.set_ylim(0, max(max(bottom, default=0), 1) * 1.1)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=len(KINDS))
    ax.set_xticks(positions, months, rotation=45 if len(months) > 6 else 0)
    _style(ax)


def _areas_chart(ax: Axes, team: TeamReport) -> None:
    """Draw the period's contacts by content area as horizontal bars."""
    areas = list(team.total.contacts_by_area)
    labels = [area for area, _ in areas][::-1]
    values = [count for _, count in areas][::-1]
    ax.barh(labels, values, color=COLORS[0])
    ax.set_xlabel("contacts")
    ax.set_xlim(0, max(max(values, default=0), 1) * 1.1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not areas:
        ax.text(0.5, 0.5, "no contacts", transform=ax.transAxes, ha="center", va="center")
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _acceptance_chart(ax: Axes, team: TeamReport) -> None:
    """Draw the period's times to acceptance as a histogram, with the median and 90th percentile."""
    buckets = list(team.total.acceptance_histogram)
    ax.bar([label for label, _ in buckets], [count for _, count in buckets], color=COLORS[1])
    ax.set_xlabel("time from request to acceptance")
    ax.set_ylabel("requests")
    ax.set_ylim(0, max(max((c for _, c in buckets), default=0), 1) * 1.1)
    median, p90 = durations.clock(team.total.acceptance_median), durations.clock(team.total.acceptance_p90)
    ax.set_title(f"median {median}, 90th percentile {p90}", fontsize=9)
    _style(ax)
