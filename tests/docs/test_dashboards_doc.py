"""docs/dashboards.md documents every route of the dashboards API."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from opsloop.web.dashboards_api import router

DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"


def test_every_dashboards_route_is_documented() -> None:
    text = DOC.read_text()
    missing = []
    for route in router.routes:
        assert isinstance(route, APIRoute)
        # Documented as written in the table: `{iid}`, `{did}`, `{tid}` stand for the ids.
        path = route.path.removeprefix("/api/projects/{project_id}")
        path = re.sub(r"\{insight_id\}", "{iid}", path)
        path = re.sub(r"\{dashboard_id\}", "{did}", path)
        path = re.sub(r"\{tile_id\}", "{tid}", path)
        for method in route.methods:
            if f"{method} {path}" not in text and f"{method} /api/projects/{{id}}{path}" not in text:
                missing.append(f"{method} {path}")
    assert not missing, f"undocumented routes: {missing}"
