"""Feature vectors of feedback texts: TF-IDF on character n-grams plus word stems, for all three languages.

Character n-grams (2-4, inside word boundaries, accents folded) need no tokeniser and work for Chinese,
Spanish and English alike; word features (jieba words for Chinese, 5-letter prefixes of Spanish and English
words as a crude stemmer) add the whole-word signal. Both halves are L2-normalised, the word half weighted
`WORD_WEIGHT`, and the sum normalised again. The fitted vocabulary and IDF weights are plain data
(`VectorSpace`), so they can be stored and new feedback vectorised later in the same space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from opsloop.feedback.glossary import concept_tokens
from opsloop.feedback.keywords import keyword_tokens
from opsloop.feedback.language import fold_accents

WORD_WEIGHT = 2.0
MAX_FEATURES = 30_000
_STEM_LETTERS = 5


def _is_han(word: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in word)


def word_features(text: str, language: str, *, glossary: bool = True) -> list[str]:
    """Word features: jieba words for Chinese, 5-letter accent-free prefixes of other words, glossary concepts."""
    words = [w if _is_han(w) else fold_accents(w)[:_STEM_LETTERS] for w in keyword_tokens(text, language)]
    return words + concept_tokens(text) if glossary else words


def _identity(tokens: list[str]) -> list[str]:
    return tokens


@dataclass(frozen=True)
class VectorSpace:
    """A fitted feature space: vocabulary and IDF of the character and word halves (storable as JSON)."""

    char_vocabulary: dict[str, int]
    char_idf: list[float]
    word_vocabulary: dict[str, int]
    word_idf: list[float]
    word_weight: float = WORD_WEIGHT
    glossary: bool = True

    @property
    def feature_names(self) -> list[str]:
        """Every feature's name, in column order: `c:` character n-grams then `w:` words."""
        names = [""] * (len(self.char_vocabulary) + len(self.word_vocabulary))
        for gram, col in self.char_vocabulary.items():
            names[col] = "c:" + gram
        offset = len(self.char_vocabulary)
        for word, col in self.word_vocabulary.items():
            names[offset + col] = "w:" + word
        return names

    @cached_property
    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer | None]:
        """The two fitted vectorisers, built once per space (checking a vocabulary costs as much as using it)."""
        chars = _char_vectorizer(0, self.char_vocabulary)
        chars.idf_ = np.asarray(self.char_idf)
        if not self.word_vocabulary:
            return chars, None
        words = _word_vectorizer(0, self.word_vocabulary)
        words.idf_ = np.asarray(self.word_idf)
        return chars, words

    def transform(self, texts: Sequence[str], languages: Sequence[str]) -> csr_matrix:
        """Rows of unit-length feature vectors for the texts, in this space."""
        chars, words = self._vectorizers
        word_matrix = csr_matrix((len(texts), 0))
        if words is not None:
            word_matrix = words.transform(
                [word_features(t, lang, glossary=self.glossary) for t, lang in zip(texts, languages, strict=True)]
            )
        return _combine(chars.transform([fold_accents(t) for t in texts]), word_matrix, self.word_weight)

    def to_json(self) -> dict[str, object]:
        """The space as JSON-ready data."""
        return {
            "char_vocabulary": self.char_vocabulary,
            "char_idf": self.char_idf,
            "word_vocabulary": self.word_vocabulary,
            "word_idf": self.word_idf,
            "word_weight": self.word_weight,
            "glossary": self.glossary,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> VectorSpace:
        """A space from `to_json()` data."""
        return cls(
            char_vocabulary={str(k): int(v) for k, v in dict(data["char_vocabulary"]).items()},  # type: ignore[call-overload]
            char_idf=[float(x) for x in data["char_idf"]],  # type: ignore[attr-defined]
            word_vocabulary={str(k): int(v) for k, v in dict(data["word_vocabulary"]).items()},  # type: ignore[call-overload]
            word_idf=[float(x) for x in data["word_idf"]],  # type: ignore[attr-defined]
            word_weight=float(data.get("word_weight", WORD_WEIGHT)),  # type: ignore[arg-type]
            glossary=bool(data.get("glossary", True)),
        )


def _char_vectorizer(n_docs: int, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 4),
        sublinear_tf=True,
        min_df=2 if n_docs >= 20 and vocabulary is None else 1,
        max_features=MAX_FEATURES if vocabulary is None else None,
        vocabulary=vocabulary,
    )


def _word_vectorizer(n_docs: int, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=_identity,
        sublinear_tf=True,
        min_df=2 if n_docs >= 20 and vocabulary is None else 1,
        max_features=MAX_FEATURES if vocabulary is None else None,
        vocabulary=vocabulary,
    )


def _combine(chars: csr_matrix, words: csr_matrix, weight: float) -> csr_matrix:
    return csr_matrix(normalize(hstack([chars, weight * words]).tocsr()))


def fit_space(
    texts: Sequence[str], languages: Sequence[str], *, glossary: bool = True
) -> tuple[VectorSpace, csr_matrix]:
    """Fit a feature space on the texts; returns it and the texts' vectors."""
    folded = [fold_accents(t) for t in texts]
    tokens = [word_features(t, lang, glossary=glossary) for t, lang in zip(texts, languages, strict=True)]
    chars = _char_vectorizer(len(texts))
    words = _word_vectorizer(len(texts))
    char_matrix = chars.fit_transform(folded)
    try:
        word_matrix = words.fit_transform(tokens)
        word_vocabulary = {str(k): int(v) for k, v in words.vocabulary_.items()}
        word_idf = [float(x) for x in words.idf_]
    except ValueError:  # no word occurs twice: the word half is empty
        word_matrix = csr_matrix((len(texts), 0))
        word_vocabulary, word_idf = {}, []
    space = VectorSpace(
        char_vocabulary={str(k): int(v) for k, v in chars.vocabulary_.items()},
        char_idf=[float(x) for x in chars.idf_],
        word_vocabulary=word_vocabulary,
        word_idf=word_idf,
        glossary=glossary,
    )
    return space, _combine(char_matrix, word_matrix, WORD_WEIGHT)
