"""Theme discovery: clustering feedback vectors, labels from keywords, nearest-theme assignment.

Pure functions over texts and vectors; `feedback.theming` stores the results. Texts of all languages are
clustered together (agglomerative clustering, cosine distance, average linkage; the number of clusters is
the one with the best silhouette score over `2..max_k`). The silhouette often prefers clusters of one
language each, so clusters whose glossary concepts (`feedback.glossary`) point the same way are then merged,
whatever their language. Without the glossary (`glossary=False`) character n-grams of different languages
share almost nothing, so `per_language=True` clusters each language apart and merges clusters of different
languages only when their whole centroids are similar. New feedback joins the theme with the most similar
centroid when the cosine similarity reaches `assign_threshold`; otherwise it stays unassigned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import cosine_distances
from sklearn.preprocessing import normalize

from opsloop.feedback.glossary import CONCEPTS, concept_tokens
from opsloop.feedback.keywords import keyword_tokens, label_from_keywords, top_keywords
from opsloop.feedback.vectors import VectorSpace, fit_space

CENTROID_FEATURES = 300


@dataclass(frozen=True)
class ThemeParams:
    """Knobs of theme discovery (defaults measured on the shipped evaluation set, docs/feedback.md)."""

    glossary: bool = True
    per_language: bool = False
    max_k: int = 15
    min_theme_size: int = 2
    concept_merge_threshold: float = 0.7
    merge_threshold: float = 0.35
    assign_threshold: float = 0.2
    examples: int = 3


@dataclass(frozen=True)
class FoundTheme:
    """One discovered theme: its members (indices into the input), keywords, label and centroid."""

    members: tuple[int, ...]
    keywords: tuple[str, ...]
    label: str
    centroid: dict[str, float]
    examples: tuple[int, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class ThemeRun:
    """The result of one discovery run: the fitted space, the themes, and unassigned indices."""

    space: VectorSpace
    themes: tuple[FoundTheme, ...]
    unassigned: tuple[int, ...]


def _best_clustering(matrix: csr_matrix, max_k: int) -> np.ndarray:
    """Cluster labels with the number of clusters (2..max_k) that maximises the cosine silhouette."""
    n = matrix.shape[0]
    if n < 3:
        return np.zeros(n, dtype=int)
    # One n x n distance matrix serves every k (and stays small where a dense feature matrix would not).
    distances = np.clip(cosine_distances(matrix), 0.0, None)
    np.fill_diagonal(distances, 0.0)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_k, n - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average").fit_predict(distances)
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    return best[1]


def centroid_of(matrix: csr_matrix, rows: Sequence[int]) -> np.ndarray:
    """The unit-length mean of some rows (dense vector)."""
    mean = np.asarray(matrix[list(rows)].mean(axis=0)).ravel()
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def sparse_centroid(vector: np.ndarray, names: Sequence[str], keep: int = CENTROID_FEATURES) -> dict[str, float]:
    """The `keep` heaviest features of a centroid by name, renormalised (what is stored)."""
    top = np.argsort(-vector)[:keep]
    top = top[vector[top] > 0]
    norm = float(np.linalg.norm(vector[top])) or 1.0
    return {names[i]: round(float(vector[i] / norm), 6) for i in top}


def similarity(vector: dict[str, float], centroid: dict[str, float]) -> float:
    """Cosine similarity of a named sparse vector and a stored centroid (both unit length)."""
    if len(vector) > len(centroid):
        vector, centroid = centroid, vector
    return sum(weight * centroid.get(name, 0.0) for name, weight in vector.items())


def named_vector(row: csr_matrix, names: Sequence[str]) -> dict[str, float]:
    """A one-row sparse matrix as {feature name: weight}."""
    coo = row.tocoo()
    return {names[c]: float(v) for c, v in zip(coo.col, coo.data, strict=True)}


def describe_theme(
    members: Sequence[int],
    matrix: csr_matrix,
    names: Sequence[str],
    texts: Sequence[str],
    languages: Sequence[str],
    keywords: Sequence[str],
    examples: int,
) -> FoundTheme:
    """A `FoundTheme` for given members: centroid, closest examples and the label from `keywords`."""
    center = centroid_of(matrix, members)
    closeness = np.asarray(matrix[list(members)] @ center).ravel()
    ranked = [members[i] for i in np.argsort(-closeness)[:examples]]
    return FoundTheme(
        members=tuple(members),
        keywords=tuple(keywords),
        label=label_from_keywords(keywords),
        centroid=sparse_centroid(center, names),
        examples=tuple(ranked),
        languages=tuple(sorted({languages[i] for i in members})),
    )


def concept_matrix(texts: Sequence[str]) -> csr_matrix:
    """Unit-length rows of the glossary concepts each text mentions (columns in `CONCEPTS` order)."""
    columns = {"@" + name: k for k, name in enumerate(CONCEPTS)}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for token in concept_tokens(text):
            rows.append(i)
            cols.append(columns[token])
    ones = np.ones(len(rows))
    return csr_matrix(normalize(csr_matrix((ones, (rows, cols)), shape=(len(texts), len(columns)))))


def merge_clusters(
    groups: list[list[int]],
    matrix: csr_matrix,
    languages: Sequence[str],
    threshold: float,
    *,
    across_languages_only: bool,
) -> list[list[int]]:
    """Merge the most similar pair of clusters while their centroids reach `threshold` cosine similarity
    (only pairs with no language in common when `across_languages_only`)."""
    merged = [list(g) for g in groups]
    langs = [{languages[i] for i in g} for g in merged]
    while len(merged) > 1:
        centers = normalize(np.vstack([centroid_of(matrix, g) for g in merged]))
        sims = centers @ centers.T
        for a in range(len(merged)):
            for b in range(len(merged)):
                if a == b or (across_languages_only and langs[a] & langs[b]):
                    sims[a, b] = -1.0
        i, j = (int(x) for x in np.unravel_index(int(np.argmax(sims)), sims.shape))
        if sims[i, j] < threshold:
            break
        merged[i] += merged[j]
        langs[i] |= langs[j]
        del merged[j], langs[j]
    return merged


def discover_themes(texts: Sequence[str], languages: Sequence[str], params: ThemeParams | None = None) -> ThemeRun:
    """Discover themes in the texts (each with its detected language)."""
    params = params or ThemeParams()
    if len(texts) < 2:
        raise ValueError("theme discovery needs at least 2 feedback texts")
    space, matrix = fit_space(texts, languages, glossary=params.glossary)
    names = space.feature_names
    by_language: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(languages):
        by_language[("en" if lang == "und" else lang) if params.per_language else "all"].append(i)
    groups: list[list[int]] = []
    for indices in by_language.values():
        labels = _best_clustering(matrix[indices], params.max_k)
        for label in sorted(set(labels.tolist())):
            groups.append([indices[k] for k in np.flatnonzero(labels == label)])
    # Clusters about the same thing mention the same glossary concepts, whatever their language (the
    # silhouette often prefers clusters of one language each). Without the glossary, clusters of different
    # languages can only meet on the words they share (product names, "app", "CSV"...).
    if params.glossary:
        groups = merge_clusters(
            groups, concept_matrix(texts), languages, params.concept_merge_threshold, across_languages_only=False
        )
    else:
        groups = merge_clusters(groups, matrix, languages, params.merge_threshold, across_languages_only=True)
    kept = [g for g in groups if len(g) >= params.min_theme_size]
    unassigned = tuple(sorted(i for g in groups if len(g) < params.min_theme_size for i in g))
    tokens = [keyword_tokens(t, lang) for t, lang in zip(texts, languages, strict=True)]
    keywords = top_keywords([[tokens[i] for i in g] for g in kept])
    themes = tuple(
        describe_theme(sorted(g), matrix, names, texts, languages, kw, params.examples)
        for g, kw in zip(kept, keywords, strict=True)
    )
    return ThemeRun(space=space, themes=themes, unassigned=unassigned)


def split_members(
    texts: Sequence[str], languages: Sequence[str], space: VectorSpace, parts: int = 2
) -> list[list[int]]:
    """Split one theme's texts into `parts` groups (agglomerative, cosine) in the stored space."""
    if len(texts) < parts:
        raise ValueError(f"a theme of {len(texts)} items cannot be split into {parts}")
    distances = np.clip(cosine_distances(space.transform(texts, languages)), 0.0, None)
    labels = AgglomerativeClustering(n_clusters=parts, metric="precomputed", linkage="average").fit_predict(distances)
    return [np.flatnonzero(labels == label).tolist() for label in range(parts)]


def nearest_theme(
    vector: dict[str, float], centroids: dict[int, dict[str, float]], threshold: float
) -> tuple[int | None, float]:
    """The id of the theme whose centroid is most similar to `vector`, if at least `threshold`; and the score."""
    best_id, best = None, 0.0
    for theme_id, centroid in centroids.items():
        score = similarity(vector, centroid)
        if score > best:
            best_id, best = theme_id, score
    return (best_id, best) if best >= threshold else (None, best)
