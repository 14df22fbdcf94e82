"""Survey definitions: questions in several languages, answer checks, skip logic and the respondent's language.

Frozen pydantic models (they are the API's JSON) and pure functions; storage and delivery build on them.
A survey's branching can only jump forward (to a later question or to the end), so every path ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QuestionKind = Literal["nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "open_text"]
Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "answered", "skipped"]
AnswerValue = int | str | tuple[str, ...] | None
END = "end"
MAX_OPEN_TEXT = 5000
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LocalizedText = dict[str, str]


class SurveyAnswerInvalid(ValueError):
    """An answer that does not fit its question; names the question."""

    def __init__(self, question_id: str, reason: str) -> None:
        super().__init__(f"{question_id}: {reason}")
        self.question_id = question_id
        self.reason = reason


class Choice(BaseModel):
    """One option of a choice question."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID.pattern)
    label: LocalizedText


class BranchRule(BaseModel):
    """Skip logic: when the answer meets `op value`, go to question `goto` (or `end`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    op: Operator
    value: int | str | list[int | str] | None = None
    goto: str


class Question(BaseModel):
    """A question: its kind, prompt in several languages, choices or scale, and skip logic."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID.pattern)
    kind: QuestionKind
    prompt: LocalizedText
    choices: tuple[Choice, ...] = ()
    scale_min: int = 1
    scale_max: int = 5
    required: bool = True
    branches: tuple[BranchRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        has_choices = self.kind in ("single_choice", "multiple_choice")
        if has_choices and len(self.choices) < 2:
            raise ValueError(f"question {self.id}: a choice question needs at least 2 choices")
        if not has_choices and self.choices:
            raise ValueError(f"question {self.id}: only choice questions have choices")
        if len({c.id for c in self.choices}) != len(self.choices):
            raise ValueError(f"question {self.id}: choice ids must be unique")
        if self.kind == "rating" and not self.scale_min < self.scale_max <= self.scale_min + 100:
            raise ValueError(f"question {self.id}: a rating scale needs scale_min < scale_max (at most 100 apart)")
        return self

    @property
    def scale(self) -> tuple[int, int] | None:
        """The (lowest, highest) score of a scale question, None for the others."""
        if self.kind == "rating":
            return self.scale_min, self.scale_max
        return SCALES.get(self.kind)


class SurveyDefinition(BaseModel):
    """A survey's questions in order, with the language used when the respondent's is missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    default_language: str = "en"
    questions: tuple[Question, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> SurveyDefinition:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids) or END in ids:
            raise ValueError(f"question ids must be unique and not `{END}`")
        position = {qid: k for k, qid in enumerate(ids)}
        for k, question in enumerate(self.questions):
            texts = [question.prompt] + [c.label for c in question.choices]
            if any(self.default_language not in text for text in texts):
                raise ValueError(f"question {question.id}: every text needs the `{self.default_language}` version")
            for rule in question.branches:
                if rule.goto != END and position.get(rule.goto, -1) <= k:
                    raise ValueError(
                        f"question {question.id}: a branch must go to a later question or `{END}`, not {rule.goto!r}"
                    )
        return self

    def question(self, question_id: str) -> Question:
        """A question by id (`KeyError` if none)."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)


def pick_language(available: Iterable[str], preferred: Sequence[str], default: str) -> str:
    """The respondent's language: the first preferred one available exactly, else by base language
    (`es-MX` -> `es`, `zh-Hans-CN` -> `zh`), else the survey's default."""
    options = {lang.lower(): lang for lang in available}
    for wanted in preferred:
        tag = wanted.strip().replace("_", "-").lower()
        if tag in options:
            return options[tag]
        base = tag.split("-")[0]
        if base in options:
            return options[base]
        for option, original in options.items():
            if option.split("-")[0] == base:
                return original
    return default


def localized(text: Mapping[str, str], language: str, default: str) -> str:
    """The text in `language`, falling back to the default language."""
    return text.get(language) or text[default]


def check_answer(question: Question, value: object) -> AnswerValue:
    """The answer in its normal form (int score, choice id, tuple of choice ids, text; None = skipped), or
    `SurveyAnswerInvalid` saying why not."""
    if value is None or value == "" or value == []:
        if question.required:
            raise SurveyAnswerInvalid(question.id, "an answer is required")
        return None
    scale = question.scale
    if scale is not None:
        low, high = scale
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            name = question.kind.upper() if question.kind != "rating" else "rating"
            raise SurveyAnswerInvalid(question.id, f"{name} answers are integers from {low} to {high}, not {value!r}")
        return value
    ids = [c.id for c in question.choices]
    if question.kind == "single_choice":
        if value not in ids:
            raise SurveyAnswerInvalid(question.id, f"unknown choice {value!r}; choices are {ids}")
        return str(value)
    if question.kind == "multiple_choice":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SurveyAnswerInvalid(question.id, "a multiple-choice answer is a list of choice ids")
        unknown = [v for v in value if v not in ids]
        if unknown:
            raise SurveyAnswerInvalid(question.id, f"unknown choices {unknown}; choices are {ids}")
        return tuple(dict.fromkeys(value))
    if not isinstance(value, str) or not value.strip():
        raise SurveyAnswerInvalid(question.id, "an open-text answer is non-empty text")
    if len(value) > MAX_OPEN_TEXT:
        raise SurveyAnswerInvalid(
            question.id, f"the answer is {len(value):,} characters; the limit is {MAX_OPEN_TEXT:,}"
        )
    return value


def _holds(rule: BranchRule, answer: AnswerValue) -> bool:
    if rule.op == "answered":
        return answer is not None
    if rule.op == "skipped":
        return answer is None
    if answer is None:
        return False
    if rule.op == "contains":
        return isinstance(answer, tuple) and rule.value in answer
    if rule.op == "in":
        return isinstance(rule.value, list) and answer in rule.value
    if rule.op in ("eq", "ne"):
        return (answer == rule.value) == (rule.op == "eq")
    if not isinstance(answer, int) or not isinstance(rule.value, int):
        return False
    return {"lt": answer < rule.value, "lte": answer <= rule.value, "gt": answer > rule.value}.get(
        rule.op, answer >= rule.value
    )


def next_question(survey: SurveyDefinition, question_id: str, answer: AnswerValue) -> str | None:
    """The question after `question_id` given its (checked) answer: the first branch that holds, else the
    next question in order; None at the end."""
    ids = [q.id for q in survey.questions]
    for rule in survey.question(question_id).branches:
        if _holds(rule, answer):
            return None if rule.goto == END else rule.goto
    position = ids.index(question_id)
    return ids[position + 1] if position + 1 < len(ids) else None


def answer_path(survey: SurveyDefinition, answers: Mapping[str, object]) -> tuple[list[str], dict[str, AnswerValue]]:
    """Follow the survey with these answers: the questions shown, in order, and the checked answers.

    A partial response stops at the first shown question without an answer; an answer to a question the
    branching skipped is refused (`SurveyAnswerInvalid`), as is any answer that does not fit."""
    shown: list[str] = []
    checked: dict[str, AnswerValue] = {}
    current: str | None = survey.questions[0].id
    while current is not None:
        shown.append(current)
        question = survey.question(current)
        if current not in answers:
            break
        checked[current] = check_answer(question, answers[current])
        current = next_question(survey, current, checked[current])
    for question_id in answers:
        if question_id not in checked:
            known = any(q.id == question_id for q in survey.questions)
            reason = "this question was not shown (branching skipped it)" if known else "no such question"
            raise SurveyAnswerInvalid(question_id, reason)
    return shown, checked
