"""Sentiment rules, worked by hand: lexicon hits, negation, complaint negators, hypothetical clauses."""

from __future__ import annotations

import pytest

from opsloop.feedback.language import detect_language, fold_accents
from opsloop.feedback.sentiment import score_sentiment


@pytest.mark.parametrize(
    ("text", "label", "score"),
    [
        # "great" +1, "easy" +1.
        ("Great app, easy to use.", "positive", 2.0),
        # "bad" is -1; "not" one token before flips it: +1.
        ("Not bad at all.", "positive", 1.0),
        # "work" +1 flipped by "doesn't" (a negator ending in n't): -1; the negator is used, so no extra -0.5.
        ("Search doesn't work.", "negative", -1.0),
        # No lexicon word; "can't" is a complaint negator that negates nothing: -0.5.
        ("I can't log in.", "negative", -0.5),
        # "great" is dropped in a hypothetical clause ("would"): a request, not praise.
        ("It would be great to have a dark mode.", "neutral", 0.0),
        # Two clauses: "love" +1; "slow" -1 -> 0, neutral.
        ("I love the design, but it is slow.", "neutral", 0.0),
        # "too" followed by a word that is not praise is a complaint: -1 ("too many" is one phrase).
        ("Way too many notifications.", "negative", -1.0),
        # "thanks" counts half: a polite complaint stays negative ("crashes" -1 + 0.5).
        ("It crashes on start, thanks.", "negative", -0.5),
        # Negation does not cross a clause boundary: "no" (complaint, -0.5) then "fine" +1 in the next clause.
        ("No, fine.", "positive", 0.5),
    ],
)
def test_english_rules(text: str, label: str, score: float) -> None:
    result = score_sentiment(text, "en")
    assert (result.label, result.score) == (label, score), result.hits


@pytest.mark.parametrize(
    ("text", "label", "score"),
    [
        # "no" flips "funciona" (+1): -1.
        ("No funciona el pago.", "negative", -1.0),
        # "mal" -1 with negators "no" and "nada" in the window: flipped once -> +1.
        ("No está nada mal.", "positive", 1.0),
        # Accents are folded before lookup: "rápido" = "rapido" +1, "fácil" +1.
        ("Muy rápido y fácil.", "positive", 2.0),
        # "sería" makes the clause hypothetical: "útil" does not count.
        ("Sería útil exportar a CSV.", "neutral", 0.0),
        # "gracias" +0.5 only.
        ("Gracias.", "positive", 0.5),
    ],
)
def test_spanish_rules(text: str, label: str, score: float) -> None:
    result = score_sentiment(text, "es")
    assert (result.label, result.score) == (label, score), result.hits


@pytest.mark.parametrize(
    ("text", "label", "score"),
    [
        # jieba: 应用 / 一 / 打开 / 就 / 闪退 -> "闪退" -1.
        ("应用一打开就闪退", "negative", -1.0),
        # "不再" negates "闪退": +1; "谢谢" +0.5 (its own clause).
        ("重装以后不再闪退了，谢谢", "positive", 1.5),
        # "不错" is a positive word in its own right (longest jieba word wins over 不 + 错).
        ("还不错", "positive", 1.0),
        # 能不能 asks a question (A-not-A): the 不能 in it is no complaint.
        ("能不能支持扫码登录？", "neutral", 0.0),
        # 太 + a word that is not praise: -1 (太 高 -> too high).
        ("价格太高", "negative", -1.0),
    ],
)
def test_chinese_rules(text: str, label: str, score: float) -> None:
    result = score_sentiment(text, "zh")
    assert (result.label, result.score) == (label, score), result.hits


def test_language_is_detected_when_not_given() -> None:
    assert score_sentiment("应用太慢了").label == "negative"
    assert detect_language("应用太慢了") == "zh"
    assert detect_language("La aplicación va lenta") == "es"
    assert detect_language("The app is slow") == "en"
    assert detect_language("12345 !!!") == "und"
    assert fold_accents("Sesión ÚNICA") == "sesion unica"
