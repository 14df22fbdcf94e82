"""docs/surveys.md documents every route of the surveys API."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from opsloop.web.surveys_api import router

DOC = Path(__file__).resolve().parents[2] / "docs" / "surveys.md"
MANAGEMENT = "/api/projects/{project_id}/surveys"


def test_every_surveys_route_is_documented() -> None:
    text = DOC.read_text()
    missing = []
    for route in router.routes:
        assert isinstance(route, APIRoute)
        # Documented as in the tables: `{id}` for the survey id, management paths relative to MANAGEMENT.
        path = route.path.replace("{survey_id}", "{id}")
        if path.startswith(MANAGEMENT):
            path = path.removeprefix(MANAGEMENT) or "/"
        for method in route.methods - {"OPTIONS"}:
            if f"{method} {path}" not in text:
                missing.append(f"{method} {path}")
    assert not missing, f"undocumented routes: {missing}"
