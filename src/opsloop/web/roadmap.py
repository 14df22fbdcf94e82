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
.log li{margin:.5rem 0}time{color:#52606d;margin-right:.5rem}
"""


def render_roadmap(roadmap: PublicRoadmap) -> str:
    """The page's HTML (every text from users goes through `html.escape`)."""
    title = escape(roadmap.title)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{title} · roadmap</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title} · roadmap</h1><section class='cols'>",
    ]
    for label, items in roadmap.columns:
        parts.append(f"<div class='col'><h2>{escape(label)}</h2>")
        if not items:
            parts.append("<p>Nothing here yet.</p>")
        for r in items:
            summary = r.description.strip()[:280]
            body = f"<p>{escape(summary)}</p>" if summary else ""
            parts.append(f"<div class='card'><strong>{escape(r.title)}</strong>{body}</div>")
        parts.append("</div>")
    parts.append("</section><h2>Changelog</h2><ul class='log'>")
    for entry in roadmap.changelog:
        parts.append(
            f"<li><time datetime='{entry.date.isoformat()}'>{entry.date.isoformat()}</time>"
            f"<strong>{escape(entry.title)}</strong></li>"
        )
    if not roadmap.changelog:
        parts.append("<li>Nothing shipped yet.</li>")
    parts.append("</ul></body></html>")
    return "".join(parts)


@router.get("/roadmap/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def public_roadmap(slug: str, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    """A project's public roadmap and changelog; 404 when it is switched off or unknown."""
    roadmap = await run_in_threadpool(runtime.roadmaps.public, slug) if len(slug) <= 64 else None
    if roadmap is None:
        raise HTTPException(404, "no public roadmap here")
    return HTMLResponse(render_roadmap(roadmap), headers={"Content-Security-Policy": _POLICY})
