"""The PRD in Markdown: every section, evidence counts, segments, and user text that cannot break it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from opsloop.requirements.prd import md_quote, md_text
from opsloop.requirements.schemas import RequirementCreate, RequirementUpdate
from tests.requirements.conftest import Shop

HOSTILE_TITLE = "Export | <script>alert('x')</script> # not a heading"


def prd_shop(shop: Shop) -> tuple[Shop, int]:
    """Three persons with properties (alice merged from anon-1), five items in two languages."""
    shop.event("anon-1", "pageview", "2024-05-01T10:00", set={"country": "CN", "$os": "iOS", "plan": "pro"})
    shop.identify("anon-1", "alice", "2024-05-01T10:05")
    shop.event("bob", "pageview", "2024-05-01T11:00", set={"country": "ES", "$os": "Android", "channel": "ads"})
    shop.event("carol", "pageview", "2024-05-01T12:00", set={"country": "CN", "$os": "iOS", "plan": "free"})
    shop.write()
    items = [
        shop.feedback("导出功能太慢了，等了十分钟", "anon-1"),
        shop.feedback("Export is great but\n# please add CSV\n- and Excel", "alice"),
        shop.feedback("La exportación falla siempre | error", "bob"),
        shop.feedback("Export </p><script>alert(1)</script> broken", "carol"),
        shop.feedback("```\nexport fails\n```", None),
    ]
    req = shop.runtime.requirements.create(
        shop.project,
        RequirementCreate(
            title=HOSTILE_TITLE,
            description="Exports time out for big projects.\n\n## Injected heading\n1. not a list",
            feedback_ids=[i.id for i in items],
            impact=2,
            confidence=50,
            effort=2,
            target_metric={"kind": "trends", "series": [{"event": "export", "label": "```"}]},
            success_criteria="Exports finish in < 10 s",
            success_target=10,
        ),
    )
    shop.runtime.requirements.update(
        shop.project,
        req.id,
        RequirementUpdate(status="shipped", shipped_at=dt.datetime(2024, 5, 10, tzinfo=dt.UTC)),
    )
    return shop, req.id


def test_prd_has_every_section_and_no_injected_structure(make_shop: Callable[..., Shop]) -> None:
    shop, rid = prd_shop(make_shop())
    text = shop.runtime.requirement_reports.prd(shop.project, rid, today=dt.date(2024, 5, 20))
    outside_code = re.sub(r"````json.*?````", "", text, flags=re.S)
    headings = [line for line in outside_code.splitlines() if line.startswith("#")]
    # Only the PRD's own headings: the title's `#`, the description's `##` and the quote's `#` are escaped.
    assert headings == [
        "# Export \\| &lt;script&gt;alert('x')&lt;/script&gt; \\# not a heading",
        "## Problem",
        "## Evidence",
        "### Sentiment",
        "### Themes",
        "### Languages",
        "### Quotes",
        "## Affected segments",
        "### Country (`country`)",
        "### Operating system (`$os`)",
        "### Plan (`plan`)",
        "### Channel (`channel`)",
        "## Target metric",
        "## Success criteria",
    ]
    assert "<script>" not in text and "</p>" not in text
    assert "\\#\\# Injected heading" in text and "1\\. not a list" in text
    # Five items from three persons (alice under two ids; one item has no sender).
    assert "5 linked feedback item(s) from 3 distinct person(s) (1 items without a known sender)." in text
    # Languages (as the inbox detected them): und 2 (carol's markup-heavy text, the code block), en 1, zh 1,
    # es 1 -> shares of 5.
    assert "| und | 2 | 40% |" in text and "| en | 1 | 20% |" in text
    assert "| zh | 1 | 20% |" in text and "| es | 1 | 20% |" in text
    # Segments of the three persons: country CN 2 (alice, carol), ES 1; plan pro 1, free 1, not set 1 (bob).
    assert "| CN | 2 | 67% |" in text and "| ES | 1 | 33% |" in text
    assert "| iOS | 2 | 67% |" in text and "| (not set) | 1 | 33% |" in text
    # Every quote line stays inside its block quote, its Markdown escaped.
    assert "> Export is great but\n> \\# please add CSV\n> \\- and Excel" in text
    assert "> La exportación falla siempre \\| error" in text
    # The target metric is fenced with more backticks than its own text holds.
    assert '````json\n{\n  "kind": "trends"' in text and text.count("````") == 2
    # Shipped on 05-10, 14-day windows, today 05-20: only 11 days so far on each side.
    assert "Shipped on 2024-05-10. The 11 days before that day" in text
    assert "Exports finish in &lt; 10 s" in text and "Target value: 10" in text
    # Every table row keeps its columns: 4 unescaped pipes (3 columns), 5 in the before/after table.
    rows = [line for line in outside_code.splitlines() if line.startswith("|")]
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in rows} == {4, 5}
    sentiment = outside_code.split("### Sentiment")[1].split("###")[0]
    assert sum(int(n) for n in re.findall(r"^\| \w+ \| (\d+) \|", sentiment, flags=re.M)) == 5


def test_markdown_escaping_helpers() -> None:
    assert md_text("a\nb  c") == "a b c"
    assert md_text("*x* _y_ [l](u) `c` ~s~") == "\\*x\\* \\_y\\_ \\[l\\](u) \\`c\\` \\~s\\~"
    assert md_text("2) item") == "2\\) item"
    assert md_quote("one\n\ntwo") == "> one\n>\n> two"
