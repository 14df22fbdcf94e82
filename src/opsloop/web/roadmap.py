"""The public roadmap page (`/roadmap/{slug}`): server-rendered HTML, no sign-in, every user text escaped."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from opsloop.requirements.roadmap import PublicRoadmap
from opsloop.runtime import Runtime
from opsloop.web.api import get_runtime

router = APIRouter()
#: The page needs no script, so none may run even if escaping were ever missed.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2933}
h1{font-size:1.6rem}.cols{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem}
.col{background:#f5f7fa;border-radius:8px;padding:1rem}.card{background:#fff;border-radius:6px;padding:.75rem;
margin:.5rem 0;box-shadow:0 1px 2px #0002}.card p{margin:.25rem 0 0;color:#52606d;white-space:pre-line}
.log li{margin:.5rem 0}.log p{margin:.25rem 0 0;color:#52606d}time{color:#52606d;margin-right:.5rem}
"""


#: The page's own words per language (the operator picks the language; user text is shown as written).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "roadmap": "roadmap",
        "planned": "Planned",
        "in_progress": "In progress",
        "shipped": "Shipped",
        "empty": "Nothing here yet.",
        "changelog": "Changelog",
        "nothing_shipped": "Nothing shipped yet.",
    },
    "zh": {
        "roadmap": "产品路线图",
        "planned": "已计划",
        "in_progress": "进行中",
        "shipped": "已上线",
        "empty": "暂无内容。",
        "changelog": "更新日志",
        "nothing_shipped": "暂无上线内容。",
    },
    "es": {
        "roadmap": "hoja de ruta",
        "planned": "Planificado",
        "in_progress": "En curso",
        "shipped": "Lanzado",
        "empty": "Nada por aquí todavía.",
        "changelog": "Novedades",
        "nothing_shipped": "Todavía no se ha lanzado nada.",
    },
}


def render_roadmap(roadmap: PublicRoadmap) -> str:
    """The page's HTML (every text from users goes through `html.escape`)."""
    words = WORDS.get(roadmap.language, WORDS["en"])
    heading = f"{escape(roadmap.title)} · {escape(words['roadmap'])}"
    parts = [
        f"<!doctype html><html lang='{escape(roadmap.language)}'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{heading}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{heading}</h1><section class='cols'>",
    ]
    for status, items in roadmap.columns:
        parts.append(f"<div class='col'><h2>{escape(words[status])}</h2>")
        if not items:
            parts.append(f"<p>{escape(words['empty'])}</p>")
        for r in items:
            summary = r.public_summary.strip()
            body = f"<p>{escape(summary)}</p>" if summary else ""
            parts.append(f"<div class='card'><strong>{escape(r.title)}</strong>{body}</div>")
        parts.append("</div>")
    parts.append(f"</section><h2>{escape(words['changelog'])}</h2><ul class='log'>")
    for entry in roadmap.changelog:
        summary = f"<p>{escape(entry.summary.strip())}</p>" if entry.summary.strip() else ""
        parts.append(
            f"<li><time datetime='{entry.date.isoformat()}'>{entry.date.isoformat()}</time>"
            f"<strong>{escape(entry.title)}</strong>{summary}</li>"
        )
    if not roadmap.changelog:
        parts.append(f"<li>{escape(words['nothing_shipped'])}</li>")
    parts.append("</ul></body></html>")
    return "".join(parts)


@router.get("/roadmap/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def public_roadmap(slug: str, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    """A project's public roadmap and changelog; 404 when it is switched off or unknown."""
    roadmap = await run_in_threadpool(runtime.roadmaps.public, slug) if len(slug) <= 64 else None
    if roadmap is None:
        raise HTTPException(404, "no public roadmap here")
    return HTMLResponse(render_roadmap(roadmap), headers={"Content-Security-Policy": _POLICY})
