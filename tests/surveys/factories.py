"""Survey definitions used across the surveys tests."""

from __future__ import annotations

from typing import Any


def nps_survey(name: str = "How are we doing?", **extra: Any) -> dict[str, Any]:
    """NPS, then 'what went wrong' for 0-6 or 'what do you like' for 7-10, then a choice and a CSAT."""
    return {
        "name": name,
        "default_language": "en",
        "questions": [
            {
                "id": "nps",
                "type": "nps",
                "text": {
                    "en": "How likely are you to recommend us?",
                    "zh_Hans": "您向朋友推荐我们的可能性有多大？",
                    "es": "¿Qué probabilidad hay de que nos recomiendes?",
                },
                "low_label": {"en": "Not likely", "zh_Hans": "不太可能", "es": "Poco probable"},
                "high_label": {"en": "Very likely", "zh_Hans": "非常可能", "es": "Muy probable"},
                "branches": [{"max": 6, "goto": "wrong"}],
                "next": "like",
            },
            {
                "id": "wrong",
                "type": "open_text",
                "text": {"en": "What went wrong?", "zh_Hans": "哪里出了问题？", "es": "¿Qué salió mal?"},
                "next": "plan",
            },
            {
                "id": "like",
                "type": "open_text",
                "required": False,
                "text": {"en": "What do you like?", "zh_Hans": "您喜欢什么？", "es": "¿Qué te gusta?"},
            },
            {
                "id": "plan",
                "type": "single_choice",
                "text": {"en": "Which plan are you on?", "zh_Hans": "您使用哪个套餐？", "es": "¿Qué plan tienes?"},
                "choices": [
                    {"id": "free", "text": {"en": "Free", "zh_Hans": "免费", "es": "Gratis"}},
                    {"id": "pro", "text": {"en": "Pro", "zh_Hans": "专业版", "es": "Pro"}},
                ],
            },
            {
                "id": "csat",
                "type": "csat",
                "text": {"en": "How satisfied are you?", "zh_Hans": "您满意吗？", "es": "¿Estás satisfecho?"},
            },
        ],
        **extra,
    }
