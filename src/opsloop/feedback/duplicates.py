"""Near-duplicate detection: MinHash signatures of character 3-gram shingles, banded for indexed lookup.

Two texts are near-duplicates when the Jaccard similarity of their shingle sets (3-grams of the text
lower-cased, accents folded, punctuation and spaces removed) reaches `DUPLICATE_JACCARD`. Each item's
64-value MinHash signature is cut into 16 bands of 4 values; items sharing any band hash are candidates
(pairs at Jaccard 0.7 share at least one band with probability 1 - (1 - 0.7^4)^16 > 0.99), and candidates
are confirmed with the exact Jaccard of their texts.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from opsloop.feedback.language import fold_accents

DUPLICATE_JACCARD = 0.7
PERMUTATIONS = 64
BANDS = 16
ROWS_PER_BAND = PERMUTATIONS // BANDS
_RNG = np.random.default_rng(20261123)  # fixed: stored band hashes must stay comparable across processes
# Multiply-shift hashing: h(x) = ((a * x + b) mod 2^64) >> 32 with odd a; uint64 arithmetic wraps mod 2^64.
_A = _RNG.integers(1, 1 << 63, size=PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64)
_NOT_WORD = re.compile(r"[\W_]+")


def shingles(text: str, size: int = 3) -> set[str]:
    """Character `size`-grams of the normalised text (the whole text when shorter)."""
    normal = _NOT_WORD.sub("", fold_accents(text))
    if len(normal) <= size:
        return {normal} if normal else set()
    return {normal[i : i + size] for i in range(len(normal) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _hash32(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=4).digest(), "little")


def signature(grams: set[str]) -> np.ndarray:
    """The MinHash signature (PERMUTATIONS values) of a shingle set."""
    if not grams:
        return np.zeros(PERMUTATIONS, dtype=np.uint64)
    values = np.fromiter((_hash32(g) for g in grams), dtype=np.uint64, count=len(grams))
    with np.errstate(over="ignore"):
        hashed = (np.outer(_A, values) + _B[:, None]) >> np.uint64(32)
    return hashed.min(axis=1)


def band_hashes(sig: np.ndarray) -> list[int]:
    """One signed 63-bit hash per band of a signature (what the index stores)."""
    out = []
    for band in range(BANDS):
        chunk = sig[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND].tobytes()
        digest = hashlib.blake2b(chunk, digest_size=8, person=band.to_bytes(2, "little")).digest()
        out.append(int.from_bytes(digest, "little") >> 1)  # fits a signed BIGINT
    return out
