"""Survey statistics as pure functions over frozen dataclasses of counts (SQL or Python counts, this computes).

NPS (Net Promoter Score) on a 0-10 answer: promoters answer 9-10, passives 7-8, detractors 0-6.
NPS = p_promoters - p_detractors (shown x100, from -100 to 100). Each answer is a draw of X in {+1, 0, -1};
its mean is NPS and its variance E[X^2] - E[X]^2 = p_p + p_d - (p_p - p_d)^2, so the standard error of NPS
over n answers is sqrt((p_p + p_d - (p_p - p_d)^2) / n). The 95% interval is the normal approximation
NPS +- 1.96 * SE, clipped to [-100, 100].

CSAT on a 1-5 answer: the share of satisfied answers (4 or 5). Its 95% interval is the normal (Wald)
interval p +- 1.96 * sqrt(p (1 - p) / n), clipped to [0, 100].

Both intervals are normal approximations: with few answers (n < ~30) or shares near 0 or 1 they are rough,
and with n = 0 there is no estimate at all (None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: z of a two-sided 95% normal interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class NpsCounts:
    """Answers to an NPS question by group."""

    promoters: int
    passives: int
    detractors: int

    @property
    def total(self) -> int:
        """All answers."""
        return self.promoters + self.passives + self.detractors


@dataclass(frozen=True)
class Estimate:
    """A score (NPS -100..100 or CSAT percent 0..100) with its 95% interval and the number of answers."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class ShareCounts:
    """How many answers count as a success (e.g. satisfied) out of all."""

    hits: int
    total: int


def count_nps(scores: Iterable[int]) -> NpsCounts:
    """Group 0-10 answers into promoters (9-10), passives (7-8) and detractors (0-6)."""
    promoters = passives = detractors = 0
    for score in scores:
        if score >= 9:
            promoters += 1
        elif score >= 7:
            passives += 1
        else:
            detractors += 1
    return NpsCounts(promoters, passives, detractors)


def nps(counts: NpsCounts) -> Estimate | None:
    """NPS with its 95% normal-approximation interval; None without answers."""
    n = counts.total
    if n == 0:
        return None
    p_p = counts.promoters / n
    p_d = counts.detractors / n
    score = p_p - p_d
    se = math.sqrt(max(p_p + p_d - score**2, 0.0) / n)
    return Estimate(
        value=100 * score,
        low=100 * max(-1.0, score - Z95 * se),
        high=100 * min(1.0, score + Z95 * se),
        n=n,
    )


def count_csat(scores: Iterable[int]) -> ShareCounts:
    """Satisfied (4 or 5) answers of a 1-5 CSAT question, out of all."""
    values = list(scores)
    return ShareCounts(hits=sum(1 for s in values if s >= 4), total=len(values))


def share(counts: ShareCounts) -> Estimate | None:
    """A share in percent with its 95% Wald interval; None without answers."""
    if counts.total == 0:
        return None
    p = counts.hits / counts.total
    se = math.sqrt(p * (1 - p) / counts.total)
    return Estimate(
        value=100 * p,
        low=100 * max(0.0, p - Z95 * se),
        high=100 * min(1.0, p + Z95 * se),
        n=counts.total,
    )


def response_rate(answered: int, shown: int) -> float | None:
    """Persons who answered at least one question over persons shown the survey; None if nobody was shown."""
    return answered / shown if shown else None


def mean(values: Iterable[int]) -> float | None:
    """Arithmetic mean (CES, rating); None without values."""
    data = list(values)
    return sum(data) / len(data) if data else None
