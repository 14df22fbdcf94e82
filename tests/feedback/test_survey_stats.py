"""Survey maths against numbers worked by hand (shown in the comments)."""

from __future__ import annotations

import math

import pytest

from opsloop.feedback.survey_stats import (
    Z95,
    NpsCounts,
    ScoreMoments,
    choice_distribution,
    csat,
    mean_interval,
    nps,
    nps_difference,
    wilson_interval,
)

SCORES = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0]


def test_nps_groups_and_wald_interval() -> None:
    counts = NpsCounts.from_scores(SCORES)
    # 9-10: five promoters; 7-8: two passives; 0-6: three detractors.
    assert counts == NpsCounts(promoters=5, passives=2, detractors=3) and counts.n == 10
    result = nps(counts)
    # NPS = 100 * (5 - 3) / 10 = 20.
    assert result.nps == 20 and (result.promoters_pct, result.passives_pct, result.detractors_pct) == (50, 20, 30)
    # Variance of the +1/0/-1 answer: 0.5 + 0.3 - 0.2^2 = 0.76; SE = 100 * sqrt(0.76 / 10) = 27.5681;
    # half-width 1.959964 * 27.5681 = 54.0325 -> [-34.03, 74.03].
    assert result.interval.low == pytest.approx(-34.0325, abs=1e-3)
    assert result.interval.high == pytest.approx(74.0325, abs=1e-3)
    assert abs(Z95 - 1.959964) < 1e-6


def test_nps_adjusted_wald_interval() -> None:
    result = nps(NpsCounts(5, 2, 3), method="adjusted_wald")
    # Add 0.75 promoter, 0.75 detractor, 1.5 passive: p = 5.75 / 13 = 0.442308, d = 3.75 / 13 = 0.288462;
    # centre 100 * (p - d) = 15.3846; variance 0.730769 - 0.153846^2 = 0.707101;
    # half-width 1.959964 * 100 * sqrt(0.707101 / 13) = 45.7107 -> [-30.326, 61.095]. The estimate stays 20.
    assert result.nps == 20
    assert result.interval.low == pytest.approx(-30.3261, abs=1e-3)
    assert result.interval.high == pytest.approx(61.0953, abs=1e-3)


def test_nps_extremes_are_clipped_and_bad_scores_refused() -> None:
    # All promoters: variance 1 + 0 - 1 = 0 -> the interval is the point 100.
    assert nps(NpsCounts(4, 0, 0)).interval.high == 100 and nps(NpsCounts(4, 0, 0)).interval.low == 100
    # One promoter, one detractor: NPS 0, variance 1 - 0 = 1, half-width 196 -> clipped to [-100, 100].
    wide = nps(NpsCounts(1, 0, 1)).interval
    assert (wide.low, wide.high) == (-100, 100)
    for bad in (11, -1, 7.5, True, "9"):
        with pytest.raises(ValueError, match="integer from 0 to 10"):
            NpsCounts.from_scores([bad])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        nps(NpsCounts(0, 0, 0))


def test_nps_difference_between_two_periods() -> None:
    before, after = NpsCounts(5, 2, 3), NpsCounts(6, 3, 1)
    # NPS 20 -> 50: change 30. Variances (x 100^2): before 7600; after 0.6 + 0.1 - 0.25 = 0.45 -> 4500.
    # half-width 1.959964 * sqrt(7600 / 10 + 4500 / 10) = 1.959964 * 34.7851 = 68.177 -> [-38.18, 98.18].
    change = nps_difference(before, after)
    assert change.estimate == pytest.approx(30)
    assert change.low == pytest.approx(30 - 1.959964 * math.sqrt(1210), abs=1e-6)
    assert change.high == pytest.approx(98.177, abs=1e-3)


def test_csat_share_with_wilson_and_mean_with_t() -> None:
    # Answers 5, 5, 4, 3, 1: satisfied (4-5) 3 of 5 = 60%.
    result = csat({5: 2, 4: 1, 3: 1, 1: 1})
    assert result.n == 5 and result.distribution == {1: 1, 2: 0, 3: 1, 4: 1, 5: 2}
    # Wilson: denominator 1 + 3.8415/5 = 1.76829; centre (0.6 + 0.38415) / 1.76829 = 0.55655;
    # half 1.96 * sqrt(0.048 + 0.038415) / 1.76829 = 0.32583 -> [23.07%, 88.24%].
    assert result.csat.estimate == pytest.approx(60)
    assert result.csat.low == pytest.approx(23.07, abs=0.01) and result.csat.high == pytest.approx(88.24, abs=0.01)
    # Mean 18 / 5 = 3.6; sample variance 11.2 / 4 = 2.8; SE sqrt(2.8 / 5) = 0.748331; t(4) = 2.776445:
    # half-width 2.077715 -> [1.5223, 5.6777].
    assert result.mean.estimate == pytest.approx(3.6)
    assert result.mean.low == pytest.approx(1.52229, abs=1e-4) and result.mean.high == pytest.approx(5.67771, abs=1e-4)
    with pytest.raises(ValueError):
        csat({6: 1})


def test_mean_and_wilson_edge_cases() -> None:
    one = mean_interval(ScoreMoments.from_scores([4]))
    assert (one.estimate, one.low, one.high) == (4, 4, 4)
    same = mean_interval(ScoreMoments.from_scores([3, 3, 3]))
    assert (same.low, same.high) == (3, 3)
    # 0 of 10: Wilson still gives an upper bound: z^2 / (n + z^2) = 3.8415 / 13.8415 = 0.2775.
    none = wilson_interval(0, 10)
    assert none.low == 0 and none.high == pytest.approx(0.2775, abs=1e-4)


def test_choice_distribution_counts_respondents() -> None:
    answers = [["dark_mode"], ["export", "dark_mode"], ["export"], []]
    shares = choice_distribution(answers, ["dark_mode", "export", "widgets"])
    # 4 respondents: dark mode 2 (50%), export 2 (50%), widgets 0.
    assert [(s.choice, s.count, s.share_pct) for s in shares] == [
        ("dark_mode", 2, 50.0),
        ("export", 2, 50.0),
        ("widgets", 0, 0.0),
    ]
