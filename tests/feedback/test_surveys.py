"""Survey definitions: validation, answer checks, skip logic, partial responses and language choice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opsloop.feedback.surveys import (
    SurveyAnswerInvalid,
    SurveyDefinition,
    answer_path,
    check_answer,
    localized,
    next_question,
    pick_language,
)

NPS_SURVEY = {
    "name": "NPS Q4",
    "default_language": "en",
    "questions": [
        {
            "id": "score",
            "kind": "nps",
            "prompt": {
                "en": "How likely are you to recommend us?",
                "zh": "您向朋友推荐我们的可能性有多大？",
                "es": "¿Qué probabilidad hay de que nos recomiendes?",
            },
            "branches": [
                {"op": "lte", "value": 6, "goto": "problem"},
                {"op": "gte", "value": 9, "goto": "love"},
                {"op": "in", "value": [7, 8], "goto": "middle"},
            ],
        },
        {
            "id": "problem",
            "kind": "multiple_choice",
            "prompt": {"en": "What went wrong?"},
            "choices": [
                {"id": "slow", "label": {"en": "Slow", "zh": "慢"}},
                {"id": "price", "label": {"en": "Price"}},
                {"id": "bugs", "label": {"en": "Bugs"}},
            ],
            "branches": [{"op": "contains", "value": "bugs", "goto": "details"}, {"op": "answered", "goto": "end"}],
        },
        {
            "id": "love",
            "kind": "open_text",
            "prompt": {"en": "What do you love?"},
            "required": False,
            "branches": [{"op": "answered", "goto": "end"}, {"op": "skipped", "goto": "end"}],
        },
        {"id": "middle", "kind": "csat", "prompt": {"en": "How satisfied are you?"}},
        {"id": "details", "kind": "open_text", "prompt": {"en": "Tell us about the bug"}},
    ],
}


@pytest.fixture
def survey() -> SurveyDefinition:
    return SurveyDefinition.model_validate(NPS_SURVEY)


def test_branching_follows_the_answers(survey: SurveyDefinition) -> None:
    # Detractor (3 <= 6) -> "problem"; picking "bugs" -> "details"; details is last -> end.
    assert next_question(survey, "score", 3) == "problem"
    assert next_question(survey, "problem", ("slow", "bugs")) == "details"
    assert next_question(survey, "problem", ("price",)) is None  # "answered" -> end
    assert next_question(survey, "details", "It freezes") is None
    # Promoter (10 >= 9) -> "love", then end whether answered or skipped.
    assert next_question(survey, "score", 10) == "love"
    assert next_question(survey, "love", None) is None
    # Passive (7 in [7, 8]) -> "middle", then the next question in order ("details"), then the end.
    assert next_question(survey, "score", 7) == "middle"
    assert next_question(survey, "middle", 4) == "details"


def test_answer_path_keeps_partial_responses_and_refuses_skipped_questions(survey: SurveyDefinition) -> None:
    shown, checked = answer_path(survey, {"score": 2, "problem": ["bugs", "bugs"]})
    # Partial: details was shown but not answered yet; duplicate choices collapse.
    assert shown == ["score", "problem", "details"] and checked == {"score": 2, "problem": ("bugs",)}
    shown, checked = answer_path(survey, {"score": 9, "love": None})
    assert shown == ["score", "love"] and checked == {"score": 9, "love": None}
    with pytest.raises(SurveyAnswerInvalid, match="middle: this question was not shown"):
        answer_path(survey, {"score": 10, "love": "all", "middle": 5})
    with pytest.raises(SurveyAnswerInvalid, match="nope: no such question"):
        answer_path(survey, {"score": 10, "nope": 1})


def test_out_of_range_and_malformed_answers(survey: SurveyDefinition) -> None:
    score = survey.question("score")
    for bad in (11, -1, 7.5, "9", True):
        with pytest.raises(SurveyAnswerInvalid, match="NPS answers are integers from 0 to 10"):
            check_answer(score, bad)
    with pytest.raises(SurveyAnswerInvalid, match="required"):
        check_answer(score, None)
    with pytest.raises(SurveyAnswerInvalid, match="CSAT answers are integers from 1 to 5"):
        check_answer(survey.question("middle"), 0)
    with pytest.raises(SurveyAnswerInvalid, match="unknown choices \\['ui'\\]"):
        check_answer(survey.question("problem"), ["ui"])
    with pytest.raises(SurveyAnswerInvalid, match="limit is 5,000"):
        check_answer(survey.question("details"), "x" * 5001)
    # HTML in an open answer is data, kept as written (escaped where shown).
    assert check_answer(survey.question("details"), "<b>bold</b>") == "<b>bold</b>"


def test_definitions_are_checked() -> None:
    def broken(**change: object) -> str:
        data = {**NPS_SURVEY, **change}
        with pytest.raises(ValidationError) as caught:
            SurveyDefinition.model_validate(data)
        return str(caught.value)

    questions = NPS_SURVEY["questions"]
    assert isinstance(questions, list)
    backwards = [*questions[:3], {**questions[3], "branches": [{"op": "answered", "goto": "score"}]}, questions[4]]
    assert "later question" in broken(questions=backwards)
    assert "unique" in broken(questions=[questions[0], questions[0]])
    assert "`es` version" in broken(default_language="es")
    one_choice = {
        "id": "c",
        "kind": "single_choice",
        "prompt": {"en": "?"},
        "choices": [{"id": "a", "label": {"en": "A"}}],
    }
    assert "at least 2 choices" in broken(questions=[one_choice])
    assert "rating scale" in broken(
        questions=[{"id": "r", "kind": "rating", "prompt": {"en": "?"}, "scale_min": 5, "scale_max": 5}]
    )


def test_the_respondents_language_is_picked() -> None:
    available = ["en", "zh", "es"]
    assert pick_language(available, ["zh-CN", "en"], "en") == "zh"  # base language of zh-CN
    assert pick_language(available, ["es_MX"], "en") == "es"
    assert pick_language(available, ["fr-FR", "de"], "en") == "en"  # none available: the default
    assert pick_language(["en", "pt-BR"], ["pt-PT"], "en") == "pt-BR"  # same base language, other region
    prompt = NPS_SURVEY["questions"][0]["prompt"]  # type: ignore[index]
    assert localized(prompt, "zh", "en") == "您向朋友推荐我们的可能性有多大？"
    assert localized({"en": "Slow"}, "zh", "en") == "Slow"
