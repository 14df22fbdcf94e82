"""The Python SDK's voice-of-the-user calls: send feedback, fetch the surveys a person should see, record that
one was shown or dismissed, and answer it (`Client.send_feedback`, `active_surveys`, `survey_shown`,
`survey_dismissed`, `answer_survey`).

Unlike events these are sent at once rather than queued: an app wants to know which survey to show now, and a
support tool wants to know that its feedback was stored. A refusal raises `APIError` with the server's reason
(401 unknown token, 400 a bad field, 409 a closed survey, 413 a text over the limit); network errors propagate.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any, Literal

from opsloop import __version__

if TYPE_CHECKING:
    from opsloop.client import _Transport

_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": f"opsloop-python/{__version__}",
}


def _call(
    transport: _Transport,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    token: str | None = None,
) -> Any:
    """One JSON request; the parsed answer, or APIError with the server's `detail` / `message`."""
    from opsloop.client import APIError  # the SDK's one error type (imported here: `client` imports this module)

    url = transport.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = dict(_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body, default=str).encode()
    status, _, raw = transport.request(method, url, data, headers)
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"detail": raw[:200].decode("utf-8", "replace")}
    if status >= 400:
        reason = answer.get("detail") or answer.get("message") if isinstance(answer, dict) else None
        raise APIError(status, str(reason or f"{method} {path} failed"))
    return answer


def send_feedback(
    transport: _Transport, token: str, project_id: int, text: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """POST one item to `/api/projects/{id}/feedback` with the project token; the stored item."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    if not isinstance(project_id, int) or isinstance(project_id, bool):
        raise TypeError(f"project_id must be an int, got {type(project_id).__name__}")
    path = f"/api/projects/{project_id}/feedback"
    answer = _call(transport, "POST", path, body={"text": text, **fields}, token=token)
    items: list[dict[str, Any]] = answer.get("items") or []
    return items[0] if items else answer


def active_surveys(
    transport: _Transport, token: str, distinct_id: str, *, event: str | None, lang: str | None
) -> list[dict[str, Any]]:
    """GET `/api/surveys/active` for this person; the surveys to show, in order."""
    if not isinstance(distinct_id, str) or not distinct_id.strip():
        raise ValueError("distinct_id must be a non-empty string")
    query = {"token": token, "distinct_id": distinct_id}
    if event:
        query["event"] = event
    if lang:
        query["lang"] = lang
    surveys: list[dict[str, Any]] = _call(transport, "GET", "/api/surveys/active", query=query).get("surveys", [])
    return surveys


def impression(
    transport: _Transport, token: str, survey_id: int, distinct_id: str, kind: Literal["shown", "dismissed"]
) -> None:
    """POST `/api/surveys/{id}/shown` or `/dismissed`."""
    body = {"token": token, "distinct_id": distinct_id}
    _call(transport, "POST", f"/api/surveys/{int(survey_id)}/{kind}", body=body)


def answer_survey(
    transport: _Transport,
    token: str,
    survey_id: int,
    distinct_id: str,
    answers: dict[str, Any],
    *,
    response_id: str | None,
    lang: str | None,
) -> dict[str, Any]:
    """POST `/api/surveys/{id}/responses`; the stored response (with its `response_id`)."""
    if not isinstance(answers, dict):
        raise TypeError(f"answers must be a dict of question id to answer, got {type(answers).__name__}")
    body: dict[str, Any] = {"token": token, "distinct_id": distinct_id, "answers": answers}
    if response_id is not None:
        body["response_id"] = response_id
    if lang is not None:
        body["lang"] = lang
    answer: dict[str, Any] = _call(transport, "POST", f"/api/surveys/{int(survey_id)}/responses", body=body)
    return answer
