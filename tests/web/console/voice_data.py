"""Feedback, a survey with responses and a requirement, created through the services, for the console tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opsloop.ingest.capture import parse_posthog
from opsloop.requirements.schemas import RequirementCreate
from opsloop.runtime import Runtime
from opsloop.surveys.management import SurveyManager
from opsloop.web.surveys_api import delivery_for
from tests.surveys.factories import nps_survey

EVIL = "<script>window.pwned=1</script> checkout <b>breaks</b>"
NOW = dt.datetime.now(dt.UTC)

# Three topics in three languages, spread over four weeks so that the themes have a trend.
TEXTS = [
    ("Checkout fails when I pay with my credit card", "en"),
    ("Payment failed again at checkout, card declined", "en"),
    ("支付失败，信用卡付款一直报错", "zh"),
    ("El pago con tarjeta falla en el checkout", "es"),
    ("The app is very slow to load the product pages", "en"),
    ("页面加载太慢了，打开商品页要等很久", "zh"),
    ("La aplicación es muy lenta al cargar productos", "es"),
    ("I love the new dark mode, great work", "en"),
    ("新的深色模式很好看，谢谢", "zh"),
    ("Me encanta el modo oscuro nuevo", "es"),
]


@dataclass(frozen=True)
class VoiceData:
    """Ids of what was created."""

    evil_item: int
    item_ids: list[int]
    survey_id: int
    requirement_id: int


def seed_voice(runtime: Runtime, project_id: int, *, themes: bool = True) -> VoiceData:
    """Feedback items (one with script in it), themes, an NPS survey with four responses, a requirement."""
    # The first four senders are known persons (their events went through ingest): reach counts them.
    events = [
        {"event": "$pageview", "distinct_id": f"user-{k}", "timestamp": NOW.isoformat(), "properties": {}}
        for k in range(4)
    ]
    batch = parse_posthog({"batch": events}, project_id, NOW, max_events=100, max_event_bytes=1 << 20, body_bytes=0)
    runtime.writer.write_log([batch.record])
    inbox = runtime.feedback
    ids = []
    for k, (text, language) in enumerate(TEXTS):
        raw = {"text": text, "language": language, "distinct_id": f"user-{k}", "tags": ["mobile"] if k % 2 else []}
        raw["created_at"] = (NOW - dt.timedelta(days=7 * (k % 4))).isoformat()
        ids.append(inbox.create(project_id, inbox.validate(raw)).id)
    evil = inbox.create(project_id, inbox.validate({"text": EVIL, "tags": ["<i>tag</i>"], "distinct_id": "<evil>"}))
    if themes:
        runtime.themes.analyse(project_id)

    manager = SurveyManager(runtime.metadata)
    survey = manager.create(project_id, nps_survey(), now=NOW - dt.timedelta(days=30))
    manager.set_status(project_id, survey.id, "active", now=NOW - dt.timedelta(days=30))
    delivery = delivery_for(runtime)
    answers = [
        {"nps": 10, "like": "Fast delivery", "plan": "pro", "csat": 5},
        {"nps": 9, "like": "Good prices", "plan": "pro", "csat": 4},
        {"nps": 8, "like": "", "plan": "free", "csat": 4},
        {"nps": 3, "wrong": EVIL, "plan": "free", "csat": 2},
    ]
    for k, answer in enumerate(answers):
        distinct_id = f"respondent-{k}"
        when = NOW - dt.timedelta(days=7 * k)
        delivery.record(project_id, survey.id, distinct_id, "shown", now=when)
        delivery.respond(project_id, survey.id, distinct_id, {q: v for q, v in answer.items() if v}, now=when)
    delivery.record(project_id, survey.id, "respondent-shown-only", "shown", now=NOW)  # shown, never answered

    requirement = runtime.requirements.create(
        project_id,
        RequirementCreate(
            title="Fix card payments <script>x</script>",
            description="Card payments fail at checkout.",
            impact=2,
            confidence=80,
            effort=2,
            feedback_ids=ids[:4],
        ),
    )
    return VoiceData(evil.id, ids, survey.id, requirement.id)
