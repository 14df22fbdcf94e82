"""Survey results maths: NPS, CSAT, CES and rating means with 95% confidence intervals.

Pure functions over small frozen dataclasses of sufficient statistics (counts, n / sum / sum of squares), so
SQL can aggregate and Python does the maths. Methods (docs/surveys.md):

- **NPS** = 100 x (promoters - detractors) / n, promoters scoring 9-10, passives 7-8, detractors 0-6. Each
  answer is +1 / 0 / -1, so NPS / 100 is the mean of that variable and its variance is
  p_promoters + p_detractors - (p_promoters - p_detractors)^2 (a difference of two proportions of the same
  multinomial sample). The Wald interval is NPS +- z * 100 * sqrt(variance / n); the adjusted-Wald interval
  (better below ~100 answers) computes the same after adding 3 pseudo-answers: 0.75 promoter, 0.75 detractor
  and 1.5 passive. Both are clipped to [-100, 100].
- **CSAT** = share of satisfied answers (4-5 on 1-5) in %, with the Wilson score interval.
- **Means** (CSAT / CES / rating scores) with Student's t interval: mean +- t(n-1) * s / sqrt(n).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm
from scipy.stats import t as student_t

Z95 = float(norm.ppf(0.975))  # 1.959964


@dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class NpsCounts:
    """Answers to an NPS question by group."""

    promoters: int
    passives: int
    detractors: int

    @property
    def n(self) -> int:
        """Number of answers."""
        return self.promoters + self.passives + self.detractors

    @classmethod
    def from_scores(cls, scores: Iterable[int]) -> NpsCounts:
        """Counts from 0-10 scores (`ValueError` for anything else)."""
        groups = [0, 0, 0]
        for score in scores:
            if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
                raise ValueError(f"an NPS score is an integer from 0 to 10, not {score!r}")
            groups[0 if score >= 9 else 1 if score >= 7 else 2] += 1
        return cls(*groups)


@dataclass(frozen=True)
class NpsResult:
    """NPS with its groups' counts and shares (in %) and a confidence interval."""

    nps: float
    n: int
    promoters: int
    passives: int
    detractors: int
    promoters_pct: float
    passives_pct: float
    detractors_pct: float
    interval: Interval
    method: str


def nps(counts: NpsCounts, *, method: Literal["wald", "adjusted_wald"] = "wald", z: float = Z95) -> NpsResult:
    """NPS and its confidence interval (`ValueError` without answers)."""
    n = counts.n
    if n == 0:
        raise ValueError("NPS needs at least one answer")
    score = 100 * (counts.promoters - counts.detractors) / n
    if method == "adjusted_wald":
        center, half = _nps_wald(counts.promoters + 0.75, counts.detractors + 0.75, n + 3, z)
    else:
        center, half = _nps_wald(counts.promoters, counts.detractors, n, z)
    interval = Interval(score, max(-100.0, center - half), min(100.0, center + half))
    return NpsResult(
        nps=score,
        n=n,
        promoters=counts.promoters,
        passives=counts.passives,
        detractors=counts.detractors,
        promoters_pct=100 * counts.promoters / n,
        passives_pct=100 * counts.passives / n,
        detractors_pct=100 * counts.detractors / n,
        interval=interval,
        method=method,
    )


def _nps_wald(promoters: float, detractors: float, n: float, z: float) -> tuple[float, float]:
    """Centre and half-width (NPS points) of the Wald interval for these (possibly adjusted) counts."""
    p, d = promoters / n, detractors / n
    variance = p + d - (p - d) ** 2
    return 100 * (p - d), z * 100 * math.sqrt(variance / n)


def nps_variance(counts: NpsCounts) -> float:
    """Variance of one answer's +1 / 0 / -1 value (in NPS points squared, i.e. x 100^2)."""
    p, d = counts.promoters / counts.n, counts.detractors / counts.n
    return 100**2 * (p + d - (p - d) ** 2)


def nps_difference(before: NpsCounts, after: NpsCounts, *, z: float = Z95) -> Interval:
    """Change of NPS between two independent samples, with the Wald interval of the difference."""
    if not before.n or not after.n:
        raise ValueError("both samples need at least one answer")
    change = nps(after).nps - nps(before).nps
    half = z * math.sqrt(nps_variance(before) / before.n + nps_variance(after) / after.n)
    return Interval(change, change - half, change + half)


@dataclass(frozen=True)
class ScoreMoments:
    """Sufficient statistics of numeric answers: count, sum and sum of squares."""

    n: int
    total: float
    total_squares: float

    @classmethod
    def from_scores(cls, scores: Iterable[float]) -> ScoreMoments:
        """Moments of a list of scores."""
        values = list(scores)
        return cls(len(values), float(sum(values)), float(sum(v * v for v in values)))


def mean_interval(moments: ScoreMoments, *, confidence: float = 0.95) -> Interval:
    """Mean with Student's t interval (a single answer: the interval is the point)."""
    n = moments.n
    if n == 0:
        raise ValueError("a mean needs at least one answer")
    mean = moments.total / n
    if n == 1:
        return Interval(mean, mean, mean)
    variance = max(0.0, (moments.total_squares - n * mean * mean) / (n - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half)


def wilson_interval(successes: int, n: int, *, z: float = Z95) -> Interval:
    """A proportion (0-1) with its Wilson score interval."""
    if n == 0:
        raise ValueError("a proportion needs at least one answer")
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, center - half), min(1.0, center + half))


@dataclass(frozen=True)
class CsatResult:
    """CSAT: % of satisfied answers (4-5 of 1-5) with its Wilson interval, and the mean score."""

    csat: Interval
    mean: Interval
    n: int
    distribution: dict[int, int]


def csat(distribution: dict[int, int], *, satisfied_from: int = 4) -> CsatResult:
    """CSAT from the number of answers per score 1-5."""
    if any(score not in range(1, 6) or count < 0 for score, count in distribution.items()):
        raise ValueError("CSAT scores are 1 to 5 with non-negative counts")
    n = sum(distribution.values())
    satisfied = sum(count for score, count in distribution.items() if score >= satisfied_from)
    share = wilson_interval(satisfied, n)
    moments = ScoreMoments(
        n,
        float(sum(score * count for score, count in distribution.items())),
        float(sum(score * score * count for score, count in distribution.items())),
    )
    return CsatResult(
        csat=Interval(100 * share.estimate, 100 * share.low, 100 * share.high),
        mean=mean_interval(moments),
        n=n,
        distribution={score: distribution.get(score, 0) for score in range(1, 6)},
    )


@dataclass(frozen=True)
class ChoiceShare:
    """How many respondents picked a choice, and their share of respondents (in %)."""

    choice: str
    count: int
    share_pct: float


def choice_distribution(answers: Iterable[Iterable[str]], choices: Iterable[str]) -> list[ChoiceShare]:
    """Shares of respondents per choice; a multiple-choice answer counts once for each choice it holds, so
    shares can add up to more than 100%."""
    picked = [set(answer) for answer in answers]
    n = len(picked)
    return [
        ChoiceShare(choice, count, 100 * count / n if n else 0.0)
        for choice in choices
        for count in [sum(choice in answer for answer in picked)]
    ]
