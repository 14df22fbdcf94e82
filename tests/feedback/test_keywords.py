"""Keyword tokens and theme labels, worked by hand."""

from __future__ import annotations

import math

from opsloop.feedback.glossary import concept_tokens
from opsloop.feedback.keywords import keyword_tokens, label_from_keywords, top_keywords


def test_tokens_drop_stop_words_and_short_words() -> None:
    # "the", "is", "so", "on", "my" are stop words; "app" stays (3 letters).
    assert keyword_tokens("The app is so slow on my phone", "en") == ["app", "slow", "phone"]
    # Spanish stop words "la", "es", "muy" go; accents are kept in keywords (they are shown to people).
    assert keyword_tokens("La aplicación es muy lenta", "es") == ["aplicación", "lenta"]


def test_chinese_tokens_come_from_jieba() -> None:
    tokens = keyword_tokens("支付宝付款每次都失败", "zh")
    # jieba segments 支付宝 / 付款 / 每次 / 都 / 失败; 每次 and 都 are stop words.
    assert tokens == ["支付宝", "付款", "失败"]
    # Latin words inside Chinese text are kept, lower-cased.
    assert "csv" in keyword_tokens("希望可以导出 CSV", "zh")


def test_top_keywords_are_class_based_tf_idf() -> None:
    groups = [[["crash", "app"], ["crash", "login"]], [["app", "pay"]]]
    # Group 0: crash in 2 docs, only in group 0 -> 2 * ln(1 + 2/1) = 2.197; login 1 * ln 3 = 1.099;
    # app is in both groups -> 1 * ln(1 + 2/2) = 0.693. Group 1: pay ln 3 = 1.099 > app 0.693.
    assert 2 * math.log(3) > math.log(3) > math.log(2)
    assert top_keywords(groups, count=3) == [["crash", "login", "app"], ["pay", "app"]]
    assert label_from_keywords(["crash", "login", "app", "extra"]) == "crash / login / app"
    assert label_from_keywords([]) == "(no keywords)"


def test_glossary_gives_the_same_concept_in_three_languages() -> None:
    assert concept_tokens("I can't log in") == ["@login"]
    assert concept_tokens("No puedo iniciar sesión") == ["@login"]
    assert concept_tokens("登录不了") == ["@login"]
    assert concept_tokens("Nothing to see here") == []
