"""Offline sentiment of feedback texts in Chinese, Spanish and English: word lexicons with negation.

Method (documented in docs/feedback.md): a text is split into clauses at punctuation and contrast words
("but", "pero", "但是"); each clause is tokenised (letter words for Spanish and English, jieba words for
Chinese) and every lexicon word adds +1 (positive) or -1 (negative), thanks-words +0.5. A negator up to three
tokens before a lexicon word inside the same clause flips its sign ("not bad" +1, "doesn't work" -1). A
"complaint negator" (can't, never, no puedo, 不了...) that negates no lexicon word counts -0.5, because in
product feedback "I can't log in" is a complaint. The sum decides: > 0 positive, < 0 negative, else neutral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from opsloop.feedback.keywords import _jieba_words
from opsloop.feedback.language import detect_language, fold_accents


def _word_list(text: str) -> list[str]:
    """The whitespace-separated words of a lexicon block."""
    return text.split()


Sentiment = Literal["positive", "neutral", "negative"]
SENTIMENTS: tuple[Sentiment, ...] = ("positive", "neutral", "negative")

_EN_POSITIVE = _word_list(
    """good great excellent amazing awesome love loved loves like liked nice fantastic perfect perfectly
beautiful intuitive easy fast quick quickly smooth happy glad satisfied recommend recommended helpful useful
reliable fixed solved impressive impressed best better improvement improved wonderful enjoy works work worked
working fine clean simple affordable friendly brilliant stars pleased convenient"""
)
_EN_NEGATIVE = _word_list(
    """bad terrible awful horrible worst hate slow slower sluggish lag lags laggy crash crashes crashed
crashing freeze freezes froze frozen broken bug bugs buggy error errors fail fails failed failure problem
problems issue issues wrong annoying annoyed frustrating frustrated ridiculous expensive overpriced unusable
unacceptable late delayed damaged missing lost spam spams declined locked stuck confusing painful hurts hurt
forever disappointed disappointing useless poor noise rip-off scam quits expired cancelled canceled refund
ignores hidden stop waiting"""
)
_ES_POSITIVE = _word_list(
    """bueno buena buenos buenas buen genial excelente increible encanta encanto encantan gusta gustan
gusto perfecto perfecta perfectamente facil rapido rapida rapidisimo rapidamente comodo comoda contento contenta
satisfecho satisfecha recomiendo recomendable util utiles fiable precioso preciosa intuitivo intuitiva mejor
mejora mejorado arreglado arreglada resuelto resuelta funciona funcionan funciono impresionante fantastica
fantastico estrellas sencilla sencillo limpia limpio maravilloso maravillosa amable"""
)
_ES_NEGATIVE = _word_list(
    """malo mala mal peor pesimo pesima horrible terrible fatal lento lenta lentos lentas lentisima
lentisimo tarda tardan tardo error errores fallo falla fallan fallido fallidos fallidas problema problemas
bloqueo bloqueada bloqueado bloquea cuelga congelo cierra rechazan rechazada caro cara caros caras carisimo
ridiculo inaceptable molesto molesta molestan frustrante imposible confuso confusos confusas spam retraso rota
roto perdido falta faltaba danado caducado traba rollo sobra demasiado demasiados demasiadas decepcionado
inutil cancela cancelado pendiente ignora ocultos esperando"""
)
_ZH_POSITIVE = _word_list(
    """好 好用 喜欢 满意 棒 太棒了 太棒 不错 优秀 完美 漂亮 直观 简单 方便 很快 顺畅 流畅 感谢 好评 推荐 实惠
稳定 干净 简洁 厉害 有用 解决 修好 加油 一流 进步 正常 快多了 没问题"""
)
_ZH_NEGATIVE = _word_list(
    """慢 很慢 太慢 卡 很卡 卡顿 卡死 崩溃 闪退 退出 错误 失败 问题 差 烂 贵 太贵 离谱 麻烦 烦 太烦 刺眼
痛苦 骚扰 垃圾 复杂 看不懂 无法 拒绝 锁 锁住 过期 延迟 破 丢 淋雨 打扰 白屏 太多 不了 收不到 查不到 无法接受
转圈 失望 难用 不好 不行 bug 取消 隐藏 晚 不匹配"""
)
# Negators flip the next lexicon word; complaint negators also count -0.5 when they flip nothing.
_EN_NEGATORS = {"not", "no", "never", "cannot", "without", "nothing", "hardly", "nor", "longer"}
_ES_NEGATORS = {"no", "nunca", "jamas", "sin", "ni", "tampoco", "nada"}
_ZH_NEGATORS = {"不", "没", "没有", "别", "不再", "无", "未", "从不", "从来不", "不会", "不能"}
_COMPLAINT_NEGATORS = {"never", "cannot", "nunca", "no", "不能", "没有", "没"}

_LEXICON: dict[str, dict[str, float]] = {
    "en": {**{w: 1.0 for w in _EN_POSITIVE}, **{w: -1.0 for w in _EN_NEGATIVE}, "thanks": 0.5, "thank": 0.5},
    "es": {**{w: 1.0 for w in _ES_POSITIVE}, **{w: -1.0 for w in _ES_NEGATIVE}, "gracias": 0.5},
    "zh": {**{w: 1.0 for w in _ZH_POSITIVE}, **{w: -1.0 for w in _ZH_NEGATIVE}, "谢谢": 0.5, "多谢": 0.5},
}
_EN_PHRASES = {("too", "many"): -1.0, ("too", "much"): -1.0, ("too", "long"): -1.0, ("so", "long"): -1.0}
_NEGATION_WINDOW = 3
# "Would be great to have X" is a request, not praise: positive words in a hypothetical clause do not count.
_HYPOTHETICAL = {"would", "could", "wish", "seria", "estaria", "ayudaria", "podria", "gustaria", "希望", "如果", "要是"}
_CLAUSE = re.compile(r"[,.;:!?¿¡，。！？；：、\n]+|\b(?:but|however|pero|aunque|sino)\b|但是|不过|可是")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True)
class SentimentScore:
    """The sentiment of one text, with the signed lexicon hits that decided it."""

    label: Sentiment
    score: float
    hits: tuple[str, ...]


def _tokens(clause: str, language: str) -> list[str]:
    if language == "zh":
        return [w.strip().lower() for w in _jieba_words(clause) if w.strip()]
    return _WORD.findall(fold_accents(clause.replace("’", "'")))


def _is_negator(tokens: list[str], j: int, language: str) -> bool:
    token = tokens[j]
    if language == "zh":
        # 能不能 / 是不是 (A-not-A) asks a question; it negates nothing.
        return token in _ZH_NEGATORS and not (j > 0 and token.startswith("不") and token[1:] == tokens[j - 1])
    if language == "es":
        return token in _ES_NEGATORS
    return token in _EN_NEGATORS or token.endswith("n't")


def _is_complaint_negator(token: str) -> bool:
    return token in _COMPLAINT_NEGATORS or token.endswith("n't")


def _clause_score(tokens: list[str], language: str) -> tuple[float, list[str]]:
    lexicon = _LEXICON["zh" if language == "zh" else language if language in _LEXICON else "en"]
    score = 0.0
    hits: list[str] = []
    used_negators: set[int] = set()
    hypothetical = any(t in _HYPOTHETICAL for t in tokens)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        weight = _EN_PHRASES.get((token, tokens[i + 1])) if language == "en" and i + 1 < len(tokens) else None
        width = 2 if weight is not None else 1
        if weight is None:
            weight = lexicon.get(token)
        if weight is None and token in ("too", "太") and i + 1 < len(tokens) and lexicon.get(tokens[i + 1], 0) <= 0:
            weight, width = -1.0, 2  # "too high", "太高": "too" + anything not praise is a complaint
        if (
            weight is None
            and language == "zh"
            and len(token) > 1
            and token[0] == "太"
            and lexicon.get(token[1:], 0) <= 0
        ):
            weight = -1.0  # jieba keeps 太高 / 太低 as one word
        if weight is None and language == "zh" and len(token) > 1 and token[0] in "不没" and token[1:] in lexicon:
            weight = -lexicon[token[1:]]  # 不快, 没用: a negated lexicon word written as one jieba word
        if weight is not None and weight > 0 and hypothetical:
            weight = None
        if weight is not None:
            negators = [j for j in range(max(0, i - _NEGATION_WINDOW), i) if _is_negator(tokens, j, language)]
            if negators:
                weight = -weight
                used_negators.update(negators)
            score += weight
            hits.append(("+" if weight > 0 else "-") + ("not " if negators else "") + " ".join(tokens[i : i + width]))
        i += width
    for j, token in enumerate(tokens):
        if j not in used_negators and _is_complaint_negator(token) and _is_negator(tokens, j, language):
            score -= 0.5
            hits.append(f"-{token}")
    return score, hits


def score_sentiment(text: str, language: str | None = None) -> SentimentScore:
    """Positive, neutral or negative, from the lexicons of the text's language with negation handling."""
    language = language or detect_language(text)
    score = 0.0
    hits: list[str] = []
    for clause in _CLAUSE.split(text):
        if clause and clause.strip():
            clause_score, clause_hits = _clause_score(_tokens(clause, language), language)
            score += clause_score
            hits += clause_hits
    label: Sentiment = "positive" if score > 0 else "negative" if score < 0 else "neutral"
    return SentimentScore(label=label, score=score, hits=tuple(hits))
