"""Near-duplicate detection: shingles, Jaccard and MinHash bands, worked by hand."""

from __future__ import annotations

import numpy as np

from opsloop.feedback.duplicates import BANDS, band_hashes, jaccard, shingles, signature


def test_shingles_ignore_case_accents_spaces_and_punctuation() -> None:
    # "Sí, ok!" normalises to "siok": 3-grams sio, iok.
    assert shingles("Sí, ok!") == {"sio", "iok"}
    assert shingles("ab") == {"ab"}
    assert shingles("?!") == set()


def test_jaccard_by_hand() -> None:
    # {abc, bcd} vs {bcd, cde}: 1 shared of 3 distinct.
    assert jaccard(shingles("abcd"), shingles("bcde")) == 1 / 3
    assert jaccard(set(), set()) == 0.0


def test_identical_texts_share_every_band_and_different_texts_none() -> None:
    a = band_hashes(signature(shingles("The app crashes when I open it")))
    b = band_hashes(signature(shingles("the app CRASHES when i open it!!")))
    c = band_hashes(signature(shingles("Please add a dark mode")))
    assert a == b and len(a) == BANDS
    assert not set(a) & set(c)
    assert all(0 <= h < 2**63 for h in a)  # fits a signed BIGINT column


def test_minhash_agreement_estimates_jaccard() -> None:
    x = shingles("my package is two weeks late and tracking has not updated")
    y = shingles("my package is three weeks late and the tracking has not updated yet")
    agreement = float(np.mean(signature(x) == signature(y)))
    assert abs(agreement - jaccard(x, y)) < 0.2
