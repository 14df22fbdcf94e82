"""Quality measures of theme discovery and sentiment against a labelled set (used by tests and benchmarks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sklearn.metrics import normalized_mutual_info_score


def purity(truth: Sequence[Hashable], clusters: Sequence[Hashable]) -> float:
    """Share of items whose cluster's most common true label is their own label (1.0 = every cluster pure)."""
    if not truth:
        return 0.0
    members: dict[Hashable, Counter[Hashable]] = {}
    for label, cluster in zip(truth, clusters, strict=True):
        members.setdefault(cluster, Counter())[label] += 1
    return sum(counts.most_common(1)[0][1] for counts in members.values()) / len(truth)


def nmi(truth: Sequence[Hashable], clusters: Sequence[Hashable]) -> float:
    """Normalised mutual information (arithmetic mean normalisation), 0 (independent) to 1 (identical)."""
    return float(normalized_mutual_info_score([str(t) for t in truth], [str(c) for c in clusters]))


@dataclass(frozen=True)
class ClassScore:
    """Precision and recall of one class."""

    label: str
    precision: float
    recall: float
    support: int


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of predictions equal to the truth."""
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth) if truth else 0.0


def class_scores(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[ClassScore]:
    """Precision (correct / predicted as the class) and recall (correct / truly the class) per class."""
    scores = []
    for label in labels:
        hits = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        predicted_n = sum(p == label for p in predicted)
        support = sum(t == label for t in truth)
        scores.append(
            ClassScore(label, hits / predicted_n if predicted_n else 0.0, hits / support if support else 0.0, support)
        )
    return scores
