"""A requirement as a PRD (产品需求文档) in Markdown: problem, evidence, affected segments, target metric and
success criteria. User text is escaped so it cannot break the document's structure or inject HTML."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from opsloop.requirements.evidence import Count, Evidence
from opsloop.requirements.schemas import MetricComparison, RequirementOut, StatusChangeOut

_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
#: What starts a list, a heading underline or a thematic break at the start of a line.
_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=])")


def md_text(text: str) -> str:
    """Text for one line of Markdown: HTML-significant characters as entities, Markdown syntax escaped, line
    breaks as spaces (so a title or a table cell stays one line)."""
    flat = " ".join(text.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _SPECIAL.sub(r"\\\1", flat)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", flat)


def md_block(text: str) -> str:
    """Multi-line text (a description): each line escaped, paragraphs kept."""
    lines = [md_text(line) for line in text.strip().splitlines()]
    return "\n".join(lines) if lines else "_(none)_"


def md_quote(text: str) -> str:
    """Text as a Markdown block quote, every line inside the quote."""
    return "\n".join(f"> {md_text(line)}" if line.strip() else ">" for line in text.strip().splitlines())


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _count_table(title: str, counts: Sequence[Count], total: int) -> list[str]:
    lines = [f"| {title} | count | share |", "|---|---:|---:|"]
    for c in counts:
        share = f"{c.count / total * 100:.0f}%" if total else "-"
        lines.append(f"| {md_text(c.value)} | {c.count} | {share} |")
    return lines


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def render_prd(
    requirement: RequirementOut,
    evidence: Evidence,
    history: Sequence[StatusChangeOut],
    metric: MetricComparison | None,
    revenue: float,
    revenue_days: int,
) -> str:
    """The PRD of one requirement."""
    r = requirement
    out: list[str] = [f"# {md_text(r.title)}", ""]
    out += [
        f"- Status: {r.status} (since {history[-1].changed_at:%Y-%m-%d})" if history else f"- Status: {r.status}",
        f"- RICE score: {r.score:,.2f} (reach {r.reach} × impact {r.impact:g} × confidence {r.confidence:g}% "
        f"÷ effort {r.effort:g} person-months)",
        f"- Votes: {r.votes}",
        f"- Revenue of the persons behind it: {revenue:,.2f} over the last {revenue_days} days",
        "",
        "## Problem",
        "",
        md_block(r.description),
        "",
        "## Evidence",
        "",
        f"{evidence.items} linked feedback item(s) from {evidence.persons} distinct person(s)"
        + (f" ({evidence.anonymous_items} items without a known sender)." if evidence.anonymous_items else "."),
        "",
    ]
    if evidence.items:
        out += ["### Sentiment", "", *_count_table("sentiment", evidence.sentiment, evidence.items), ""]
        out += ["### Themes", "", *_count_table("theme", evidence.themes, evidence.items), ""]
        out += ["### Languages", "", *_count_table("language", evidence.languages, evidence.items), ""]
        out += ["### Quotes", ""]
        for q in evidence.quotes:
            theme = f", theme: {md_text(q.theme)}" if q.theme else ""
            out += [md_quote(q.text), ">", f"> — item {q.item_id} ({q.language}, {q.sentiment}{theme})", ""]
    out += ["## Affected segments", ""]
    if not evidence.segments:
        out += ["_No person properties are known for these persons._", ""]
    for segment in evidence.segments:
        out += [f"### {md_text(segment.title)} (`{segment.property.replace('`', '')}`)", ""]
        out += [*_count_table(md_text(segment.property), segment.counts, evidence.persons), ""]
    out += ["## Target metric", ""]
    if r.target_metric is None:
        out += ["_None set._", ""]
    else:
        body = json.dumps(r.target_metric, indent=2, ensure_ascii=False)
        fence = _fence(body)
        out += [f"{fence}json", body, fence, ""]
    if metric is not None:
        out += [
            f"Shipped on {metric.ship_date}. The {metric.days} days before that day and the {metric.days} days "
            "from it on"
            + ("" if metric.complete else f" (so far; the full windows are {r.metric_window_days} days)")
            + ":",
            "",
            "| window | from | to | value |",
            "|---|---|---|---:|",
            f"| before | {metric.before.date_from} | {metric.before.date_to} | {_number(metric.before.value)} |",
            f"| after | {metric.after.date_from} | {metric.after.date_to} | {_number(metric.after.value)} |",
            "",
            f"Change: {_number(metric.change)}"
            + (f" ({metric.change_percent:+.1f}%)" if metric.change_percent is not None else ""),
            "",
        ]
    out += ["## Success criteria", "", md_block(r.success_criteria)]
    if r.success_target is not None:
        out += ["", f"Target value: {_number(r.success_target)}"]
    return "\n".join(out).rstrip() + "\n"
