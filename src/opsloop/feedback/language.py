"""Language of a feedback text (Chinese, Spanish, English) and each language's stop words.

Detection is a small rule set, enough for the three languages opsloop analyses: Han characters mean
Chinese; otherwise Spanish accents and punctuation plus stop-word hits decide between Spanish and English.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal


def _word_list(text: str) -> list[str]:
    """The whitespace-separated words of a lexicon block."""
    return text.split()


Language = Literal["zh", "es", "en", "und"]
LANGUAGES: tuple[Language, ...] = ("zh", "es", "en", "und")

EN_STOP_WORDS = frozenset(
    _word_list(
        """a about after again all also am an and any are as at be because been before being but by can could
    did do does doing done don't each even ever every for from get gets got had has have having he her here
    him his how i i'm i've if in into is it it's its just let me more most much my no not now of off on once
    one only or other our out over own please same she should so some still such than thank thanks that the
    their them then there these they this those through to too up us very was we were what when where which
    while who why will with would you your yours day days time times every single really already since same
    way thing things lot lots next new"""
    )
)
ES_STOP_WORDS = frozenset(
    _word_list(
        """a al algo algún alguna algunas alguno algunos ante antes aquí así aunque bien cada casi como con
    contra cual cuando de del desde donde dos el él ella ellas ellos en entre era es esa ese eso esta está
    están este esto estos ha hace han has hasta hay he la las le les lo los me mi mis mucho muy más nada ni
    no nos nosotros o os otra otro para pero poco por porque que qué se sea ser si sí sin sobre solo son su
    sus también tan te tengo tiene todo todos tras tu tus un una unas uno unos usted vez ya yo favor gracias
    cada día días sigue siguen lleva hacer sale sido vuelto ahora cuando mismo misma y e u estoy estar
    parece"""
    )
)
ZH_STOP_WORDS = frozenset(
    _word_list(
        """的 了 是 我 你 他 她 它 们 我们 你们 在 和 也 就 都 而 及 与 着 或 一个 没有 这 那 这个 那个 吗 呢 吧 啊
    呀 把 被 让 给 对 从 到 又 还 很 太 请问 请 能不能 可以 一下 什么 怎么 为什么 已经 一直 每次 时候 以后
    之后 然后 现在 如果 但是 不过 因为 所以 比如 还是 自己 一样 这么 那么 希望 能 会 要 有 没 不 上 下 里
    个 次 天 些 点 过 得 地 之"""
    )
)
STOP_WORDS: dict[str, frozenset[str]] = {"en": EN_STOP_WORDS, "es": ES_STOP_WORDS, "zh": ZH_STOP_WORDS}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SPANISH_MARKS = re.compile(r"[ñáéíóú¿¡]")
# Words frequent in one of the two languages and rare in the other (stop words shared by both excluded).
_ES_ONLY = ES_STOP_WORDS - EN_STOP_WORDS - {"a", "he", "has", "me", "no", "son", "su", "te", "yo", "solo"}
_EN_ONLY = EN_STOP_WORDS - ES_STOP_WORDS - {"a", "he", "me", "no", "son", "has", "solo"}


def detect_language(text: str) -> Language:
    """`zh`, `es` or `en` for a feedback text; `und` when nothing points to one of them."""
    han = len(_HAN.findall(text))
    words = _LATIN_WORD.findall(text.lower())
    if han and han >= len(words):
        return "zh"
    if not words:
        return "zh" if han else "und"
    spanish = sum(w in _ES_ONLY for w in words) + 2 * len(_SPANISH_MARKS.findall(text.lower()))
    english = sum(w in _EN_ONLY for w in words)
    if spanish == english == 0:
        return "und"
    return "es" if spanish > english else "en"


def fold_accents(text: str) -> str:
    """Lower-case text without diacritics (`Sesión` -> `sesion`), so spelling variants share n-grams."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
