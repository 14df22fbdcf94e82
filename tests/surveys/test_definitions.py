"""Definitions: validation errors name the field, branching has no cycles, paths follow answers, languages."""

from __future__ import annotations

import copy

import pytest

from opsloop.surveys.definitions import SurveyInvalid, answer_path, check_answers, parse_definition
from opsloop.surveys.language import localise, pick_language
from tests.surveys.factories import nps_survey


def test_branching_paths() -> None:
    d = parse_definition(nps_survey())
    # A detractor (3) goes to "what went wrong", then the plan question; a promoter to "what do you like".
    assert answer_path(d, {"nps": 3}) == (["nps", "wrong"], False)
    assert answer_path(d, {"nps": 9}) == (["nps", "like", "plan"], False)  # "like" is optional
    # "like" is optional: the path continues past it without an answer.
    assert answer_path(d, {"nps": 9, "plan": "pro", "csat": 5}) == (["nps", "like", "plan", "csat"], True)
    # 6 is the last detractor score (branch max is inclusive), 7 the first that is not.
    assert answer_path(d, {"nps": 6})[0][-1] == "wrong"
    assert answer_path(d, {"nps": 7})[0][1] == "like"


def test_answers_off_the_path_are_refused() -> None:
    d = parse_definition(nps_survey())
    with pytest.raises(SurveyInvalid, match=r"answers\.wrong: this question is skipped"):
        check_answers(d, {"nps": 10, "wrong": "nothing"})
    clean, complete = check_answers(d, {"nps": 2, "wrong": "  slow  ", "plan": "free", "csat": 2})
    assert clean["wrong"] == "slow" and complete


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (11, r"answers\.nps: 11 is outside the nps scale 0\.\.10"),
        (-1, r"answers\.nps: -1 is outside"),
        ("9", r"answers\.nps: a nps answer must be a whole number"),
        (True, r"answers\.nps: a nps answer must be a whole number"),
    ],
)
def test_out_of_range_nps(answer: object, message: str) -> None:
    with pytest.raises(SurveyInvalid, match=message):
        check_answers(parse_definition(nps_survey()), {"nps": answer})


def test_choice_and_text_answers() -> None:
    d = parse_definition(nps_survey())
    with pytest.raises(SurveyInvalid, match=r"answers\.plan: must be one of the choice ids"):
        check_answers(d, {"nps": 1, "wrong": "x", "plan": "gold"})
    with pytest.raises(SurveyInvalid, match=r"answers\.wrong: the text is 5001 characters; the limit is 5000"):
        check_answers(d, {"nps": 1, "wrong": "x" * 5001})
    with pytest.raises(SurveyInvalid, match=r"answers\.nope: the survey has no such question"):
        check_answers(d, {"nope": 1})


def test_cycles_and_missing_targets_are_refused() -> None:
    data = nps_survey()
    data["questions"][3]["next"] = "nps"  # plan -> nps -> wrong -> plan
    with pytest.raises(SurveyInvalid, match=r"branching loops \(nps -> wrong -> plan -> nps\)"):
        parse_definition(data)
    data = nps_survey()
    data["questions"][0]["branches"][0]["goto"] = "missing"
    with pytest.raises(SurveyInvalid, match="branch target 'missing' is not a question"):
        parse_definition(data)


def test_field_errors_name_the_field() -> None:
    data = nps_survey()
    data["questions"][0]["type"] = "stars"
    with pytest.raises(SurveyInvalid, match=r"^questions\.0\.type: "):
        parse_definition(data)
    data = nps_survey()
    del data["questions"][3]["choices"]
    with pytest.raises(SurveyInvalid, match="a single_choice question needs `choices`"):
        parse_definition(data)
    data = nps_survey()
    data["questions"][1]["text"] = {"es": "solo español"}
    with pytest.raises(SurveyInvalid, match="question 'wrong': text has no 'en' text"):
        parse_definition(data)
    data = copy.deepcopy(nps_survey(targeting={"properties": [{"property": "plan", "value": "pro"}]}))
    with pytest.raises(SurveyInvalid, match="must have type `person`"):
        parse_definition(data)


def test_language_choice() -> None:
    d = parse_definition(nps_survey())
    assert d.languages == ["en", "es", "zh_Hans"]
    # explicit lang wins; then Accept-Language by quality; then the default.
    assert pick_language(d.languages, "es", "zh-CN", "en") == "es"
    assert pick_language(d.languages, None, "fr-FR, zh-CN;q=0.8, en;q=0.5", "en") == "zh_Hans"
    assert pick_language(d.languages, "de", "fr", "en") == "en"
    local = localise(1, "pub", d, "zh_Hans")
    assert local.questions[0].text == "您向朋友推荐我们的可能性有多大？"
    assert local.questions[3].choices[1].text == "专业版"
    assert local.questions[0].scale == (0, 10)
