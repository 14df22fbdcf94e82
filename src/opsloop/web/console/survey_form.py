"""The survey editor's form: a survey definition as flat form fields and back, and the editor's actions (add,
remove, move a question). Parsing is lenient (a draft may be half written); `SurveyDefinition` validates on save.

Field names: `name`, `default_language`, `thank_you-{lang}`, `q-count`, per question `q-{i}-id`, `-type`,
`-required`, `-scale_max`, `-text-{lang}`, `-next`, `-extra` (JSON of fields the editor does not show, kept as
they are), choices `q-{i}-c-{j}-id` / `-text-{lang}`, branches `q-{i}-b-{k}-min` / `-max` / `-choices` /
`-goto`; targeting `segment_id`, `trigger_events`, `rollout_percent`, `t-{k}-property` / `-op` / `-value`;
`starts_at`, `ends_at` (project-local), `recurrence_days`, `hide_after_dismiss_days`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from opsloop.surveys.definitions import END, SCALES

#: Languages the editor always offers (others already in a definition are kept and shown too).
EDITOR_LANGUAGES = ("en", "zh_Hans", "es")
QUESTION_KINDS = ("nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "open_text")
CHOICE_KINDS = ("single_choice", "multiple_choice")
SCALE_KINDS = (*SCALES, "rating")
#: Empty rows offered after the filled ones.
SPARE_CHOICES = 2
MAX_QUESTIONS = 50
_EDITED_QUESTION_KEYS = {"id", "type", "text", "required", "scale_max", "choices", "branches", "next"}


def _get(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


def _int(form: FormData, name: str, label: str, errors: list[str]) -> int | None:
    raw = _get(form, name, 20)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors.append(f"{label}: {raw!r} is not a whole number")
        return None


def _texts(form: FormData, prefix: str, languages: list[str]) -> dict[str, str]:
    return {lang: text for lang in languages if (text := _get(form, f"{prefix}-{lang}"))}


def editor_languages(definition: dict[str, Any]) -> list[str]:
    """The editor's languages: en, zh_Hans, es, then any other language the definition is written in."""
    found: set[str] = set()
    for q in definition.get("questions", []):
        found.update(q.get("text", {}))
        for c in q.get("choices") or []:
            found.update(c.get("text", {}))
    return [*EDITOR_LANGUAGES, *sorted(found - set(EDITOR_LANGUAGES))]


def new_question(kind: str, taken: list[str]) -> dict[str, Any]:
    """An empty question of `kind` with an id not in `taken`."""
    n = len(taken) + 1
    while f"q{n}" in taken:
        n += 1
    question: dict[str, Any] = {"id": f"q{n}", "type": kind, "text": {}, "required": True, "branches": []}
    if kind == "rating":
        question["scale_max"] = 5
    if kind in CHOICE_KINDS:
        question["choices"] = []
    return question


def blank_definition() -> dict[str, Any]:
    """What "New survey" starts from: one NPS question."""
    return {"name": "", "default_language": "en", "questions": [new_question("nps", [])], "targeting": {}}


def _local(value: str, timezone: str) -> dt.datetime:
    """A `datetime-local` value in the project's timezone, as an aware time."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(timezone))


def local_input(value: str | None, timezone: str) -> str:
    """A stored ISO time as a `datetime-local` value in the project's timezone."""
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def _question(form: FormData, i: int, languages: list[str], errors: list[str]) -> dict[str, Any]:
    p = f"q-{i}"
    kind = _get(form, f"{p}-type", 32)
    where = f"question {i + 1}"
    q: dict[str, Any] = {"id": _get(form, f"{p}-id", 64), "type": kind, "text": _texts(form, f"{p}-text", languages)}
    q["required"] = _get(form, f"{p}-required", 8) == "1"
    if kind == "rating":
        q["scale_max"] = _int(form, f"{p}-scale_max", f"{where}: scale top", errors)
    if kind in CHOICE_KINDS:
        choices = []
        for j in range(int(_get(form, f"{p}-c-count", 4) or 0)):
            texts = _texts(form, f"{p}-c-{j}-text", languages)
            if texts:
                choices.append({"id": _get(form, f"{p}-c-{j}-id", 64) or f"c{j + 1}", "text": texts})
        q["choices"] = choices
    branches = []
    for k in range(int(_get(form, f"{p}-b-count", 4) or 0)):
        goto = _get(form, f"{p}-b-{k}-goto", 64)
        if not goto:
            continue
        branch: dict[str, Any] = {"goto": goto}
        if kind in CHOICE_KINDS:
            branch["choices"] = [v for v in form.getlist(f"{p}-b-{k}-choices") if isinstance(v, str) and v]
        else:
            for end in ("min", "max"):
                value = _int(form, f"{p}-b-{k}-{end}", f"{where}: branch {k + 1} {end}", errors)
                if value is not None:
                    branch[end] = value
        branches.append(branch)
    q["branches"] = branches
    if nxt := _get(form, f"{p}-next", 64):
        q["next"] = nxt
    extra = _get(form, f"{p}-extra", 20_000)
    if extra:
        try:
            kept = json.loads(extra)
        except ValueError:
            kept = {}
        q.update({k: v for k, v in kept.items() if k not in _EDITED_QUESTION_KEYS} if isinstance(kept, dict) else {})
    return q


def _targeting(form: FormData, errors: list[str]) -> dict[str, Any]:
    properties = []
    for k in range(int(_get(form, "t-count", 4) or 0)):
        name = _get(form, f"t-{k}-property", 200)
        if not name:
            continue
        op = _get(form, f"t-{k}-op", 16) or "eq"
        rule: dict[str, Any] = {"property": name, "type": "person", "op": op}
        if op not in ("is_set", "is_not_set"):
            value: Any = _get(form, f"t-{k}-value", 500)
            if op == "in":
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif op in ("gt", "gte", "lt", "lte"):
                try:
                    value = float(value) if "." in value else int(value)
                except ValueError:
                    errors.append(f"targeting condition {k + 1}: {value!r} is not a number")
            rule["value"] = value
        properties.append(rule)
    targeting: dict[str, Any] = {"properties": properties}
    targeting["trigger_events"] = [e.strip() for e in _get(form, "trigger_events").split(",") if e.strip()]
    segment = _int(form, "segment_id", "segment", errors)
    if segment is not None:
        targeting["segment_id"] = segment
    rollout = _get(form, "rollout_percent", 20)
    if rollout:
        try:
            targeting["rollout_percent"] = float(rollout)
        except ValueError:
            errors.append(f"rollout_percent: {rollout!r} is not a number")
    return targeting


def definition_from_form(form: FormData, timezone: str) -> tuple[dict[str, Any], list[str]]:
    """The definition the form describes (not yet validated) and the fields that could not be read."""
    errors: list[str] = []
    languages = [lang for lang in _get(form, "languages", 200).split(",") if lang] or list(EDITOR_LANGUAGES)
    count = min(int(_get(form, "q-count", 4) or 0), MAX_QUESTIONS)
    definition: dict[str, Any] = {
        "name": _get(form, "name", 200),
        "default_language": _get(form, "default_language", 16) or "en",
        "questions": [_question(form, i, languages, errors) for i in range(count)],
        "targeting": _targeting(form, errors),
    }
    if thanks := _texts(form, "thank_you", languages):
        definition["thank_you"] = thanks
    for name in ("recurrence_days", "hide_after_dismiss_days"):
        value = _int(form, name, name, errors)
        if value is not None:
            definition[name] = value
    for name in ("starts_at", "ends_at"):
        raw = _get(form, name, 40)
        if raw:
            try:
                definition[name] = _local(raw, timezone).isoformat()
            except ValueError:
                errors.append(f"{name}: {raw!r} is not a date and time")
    return definition, errors


def apply_action(definition: dict[str, Any], action: str, new_kind: str) -> None:
    """Add a question of `new_kind`, or remove / move question i (`remove:i`, `up:i`, `down:i`)."""
    questions: list[dict[str, Any]] = definition["questions"]
    if action == "add" and new_kind in QUESTION_KINDS and len(questions) < MAX_QUESTIONS:
        questions.append(new_question(new_kind, [q["id"] for q in questions]))
        return
    match = re.fullmatch(r"(remove|up|down):(\d{1,3})", action)
    if not match:
        return
    verb, i = match.group(1), int(match.group(2))
    if i >= len(questions):
        return
    if verb == "remove":
        questions.pop(i)
    elif verb == "up" and i > 0:
        questions[i - 1], questions[i] = questions[i], questions[i - 1]
    elif verb == "down" and i + 1 < len(questions):
        questions[i + 1], questions[i] = questions[i], questions[i + 1]


def question_extra(question: dict[str, Any]) -> str:
    """JSON of the question's fields the editor does not show (kept through an edit)."""
    kept = {k: v for k, v in question.items() if k not in _EDITED_QUESTION_KEYS}
    return json.dumps(kept, ensure_ascii=False) if kept else ""


def error_question(message: str, definition: dict[str, Any]) -> int | None:
    """The index of the question an error message is about, if it names one."""
    found = re.match(r"questions\.(\d+)", message)
    if found:
        return int(found.group(1))
    found = re.search(r"question '([^']+)'", message)
    ids = [q.get("id") for q in definition.get("questions", [])]
    if found and found.group(1) in ids:
        return ids.index(found.group(1))
    return None


def branch_targets(definition: dict[str, Any]) -> list[str]:
    """Where a branch may go: any question id, or the end."""
    return [q.get("id", "") for q in definition.get("questions", [])] + [END]
