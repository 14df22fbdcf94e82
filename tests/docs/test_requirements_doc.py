"""docs/requirements.md documents every route of the requirements, annotations and roadmap APIs."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from opsloop.web import annotations, requirements, roadmap

DOC = Path(__file__).resolve().parents[2] / "docs" / "requirements.md"


def test_every_requirements_route_is_documented() -> None:
    text = DOC.read_text()
    missing = []
    for router in (requirements.router, annotations.router, roadmap.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = route.path.replace("{project_id}", "{id}").replace("{requirement_id}", "{rid}")
            path = path.replace("{annotation_id}", "{aid}")
            for method in route.methods:
                if f"`{method} {path}" not in text:
                    missing.append(f"{method} {path}")
    assert not missing, f"undocumented routes: {missing}"
