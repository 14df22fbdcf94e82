"""NPS and CSAT with 95% intervals against hand-worked numbers."""

from __future__ import annotations

import math

import pytest

from opsloop.surveys.stats import NpsCounts, ShareCounts, count_csat, count_nps, nps, response_rate, share


def test_nps_hand_worked() -> None:
    # 10 answers: promoters 10,10,9,9,10 (5); passives 8,7 (2); detractors 6,3,0 (3).
    counts = count_nps([10, 10, 9, 8, 7, 6, 3, 0, 9, 10])
    assert counts == NpsCounts(promoters=5, passives=2, detractors=3)
    # NPS = 0.5 - 0.3 = 0.2 -> 20. Variance = (0.5 + 0.3 - 0.2^2) / 10 = 0.076; SE = sqrt(0.076) = 0.27568;
    # 1.96 * SE = 0.54033 -> interval 20 -+ 54.03 = [-34.03, 74.03].
    estimate = nps(counts)
    assert estimate is not None
    assert estimate.value == pytest.approx(20.0)
    assert estimate.low == pytest.approx(-34.03, abs=0.01)
    assert estimate.high == pytest.approx(74.03, abs=0.01)
    assert estimate.n == 10


def test_nps_all_promoters_has_zero_width_and_clips() -> None:
    # Everyone answers 9-10: NPS 100, variance (1 + 0 - 1) / n = 0, so the interval is [100, 100].
    estimate = nps(NpsCounts(promoters=4, passives=0, detractors=0))
    assert estimate is not None and (estimate.value, estimate.low, estimate.high) == (100.0, 100.0, 100.0)
    # One promoter, one detractor: NPS 0, variance (0.5 + 0.5 - 0) / 2 = 0.5, SE 0.7071, 1.96 SE = 1.386 -> clipped.
    wide = nps(NpsCounts(promoters=1, passives=0, detractors=1))
    assert wide is not None and (wide.low, wide.high) == (-100.0, 100.0)


def test_nps_needs_answers() -> None:
    assert nps(NpsCounts(0, 0, 0)) is None


def test_csat_hand_worked() -> None:
    # 8 answers, satisfied (4-5): 5,4,4,5,4 -> 5 of 8 = 62.5%.
    counts = count_csat([5, 4, 4, 3, 2, 5, 1, 4])
    assert counts == ShareCounts(hits=5, total=8)
    # SE = sqrt(0.625 * 0.375 / 8) = 0.17116; 1.96 SE = 0.33547 -> [28.95, 96.05].
    estimate = share(counts)
    assert estimate is not None
    assert estimate.value == pytest.approx(62.5)
    assert estimate.low == pytest.approx(28.95, abs=0.01)
    assert estimate.high == pytest.approx(96.05, abs=0.01)
    assert math.isclose(estimate.high - estimate.value, estimate.value - estimate.low)


def test_response_rate() -> None:
    assert response_rate(3, 4) == 0.75
    assert response_rate(0, 0) is None
