"""Keyword tokens for theme labels: jieba words for Chinese, letter words for Spanish and English."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from opsloop.feedback.language import STOP_WORDS, detect_language

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_ALL_STOP_WORDS = STOP_WORDS["en"] | STOP_WORDS["es"]
_jieba_lock = threading.Lock()


def _jieba_words(text: str) -> list[str]:
    import jieba  # imported on first use: loading its dictionary takes about a second

    with _jieba_lock:
        jieba.setLogLevel(logging.WARNING)
        return list(jieba.cut(text))


def keyword_tokens(text: str, language: str | None = None) -> list[str]:
    """Content words of a text, lower-cased, stop words and one-letter words removed."""
    language = language or detect_language(text)
    tokens: list[str] = []
    if language == "zh":
        for word in _jieba_words(text):
            word = word.strip().lower()
            if _HAN.search(word):
                if len(word) >= 2 and word not in STOP_WORDS["zh"]:
                    tokens.append(word)
            elif len(word) >= 2 and word.isalnum() and word not in _ALL_STOP_WORDS:
                tokens.append(word)
        return tokens
    for word in _LATIN_WORD.findall(text.lower()):
        if len(word) >= 3 and word not in _ALL_STOP_WORDS:
            tokens.append(word)
    return tokens


def top_keywords(groups: Sequence[Sequence[list[str]]], count: int = 5) -> list[list[str]]:
    """The most distinctive words of each group of tokenised texts (class-based TF-IDF).

    A word's weight in a group is its document frequency in the group times log(1 + G / g), where G is the
    number of groups and g the number of groups it occurs in: frequent in this theme, rare in the others.
    Ties are broken alphabetically so labels are stable.
    """
    doc_freqs = [Counter(word for tokens in group for word in set(tokens)) for group in groups]
    spread = Counter(word for freqs in doc_freqs for word in freqs)
    n_groups = len(groups)
    ranked: list[list[str]] = []
    for freqs in doc_freqs:
        weights = {word: n * math.log(1 + n_groups / spread[word]) for word, n in freqs.items()}
        ranked.append([w for w, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:count]])
    return ranked


def label_from_keywords(keywords: Iterable[str], words: int = 3) -> str:
    """A readable theme label: its first few keywords joined by ' / '."""
    chosen = list(keywords)[:words]
    return " / ".join(chosen) if chosen else "(no keywords)"
