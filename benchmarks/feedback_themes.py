"""Quality of feedback theme discovery and sentiment on the shipped labelled set (zh / es / en).

    PYTHONPATH=src python benchmarks/feedback_themes.py [--data tests/feedback/data/feedback_eval.jsonl]

Prints clustering purity and NMI against the theme labels (overall and per language) for three
configurations, how many themes mix languages, an assignment check (themes found on two thirds of the set,
the other third assigned to the nearest theme), and sentiment accuracy with per-class precision / recall.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from opsloop.feedback.evaluation import accuracy, class_scores, nmi, purity
from opsloop.feedback.sentiment import SENTIMENTS, score_sentiment
from opsloop.feedback.themes import ThemeParams, ThemeRun, discover_themes, named_vector, nearest_theme

DATA = Path(__file__).resolve().parents[1] / "tests" / "feedback" / "data" / "feedback_eval.jsonl"
LANGUAGES = ("en", "es", "zh")
CONFIGS = {
    "glossary, joint (default)": ThemeParams(),
    "no glossary, per language": ThemeParams(glossary=False, per_language=True),
    "no glossary, joint": ThemeParams(glossary=False),
}


def load(path: Path) -> list[dict[str, str]]:
    """The labelled rows."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cluster_ids(run: ThemeRun, n: int) -> list[str]:
    """Each item's theme index as text; unassigned items are singleton clusters."""
    ids = [f"u{i}" for i in range(n)]
    for k, theme in enumerate(run.themes):
        for i in theme.members:
            ids[i] = str(k)
    return ids


def report_themes(rows: list[dict[str, str]]) -> None:
    """Purity / NMI per configuration, overall and per language."""
    texts, langs, truth = [r["text"] for r in rows], [r["language"] for r in rows], [r["theme"] for r in rows]
    print(f"themes: {len(rows)} texts, {len(set(truth))} true themes, languages {dict(Counter(langs))}")
    for name, params in CONFIGS.items():
        started = time.perf_counter()
        run = discover_themes(texts, langs, params)
        seconds = time.perf_counter() - started
        ids = cluster_ids(run, len(rows))
        mixed = sum(len(t.languages) > 1 for t in run.themes)
        print(
            f"\n  {name}: {len(run.themes)} themes ({mixed} mix languages), {len(run.unassigned)} unassigned, "
            f"{seconds:.1f} s"
        )
        print(f"    overall   purity {purity(truth, ids):.3f}  NMI {nmi(truth, ids):.3f}")
        for lang in LANGUAGES:
            idx = [i for i, x in enumerate(langs) if x == lang]
            t, c = [truth[i] for i in idx], [ids[i] for i in idx]
            print(f"    {lang}        purity {purity(t, c):.3f}  NMI {nmi(t, c):.3f}")


SUBSETS = (
    ("dark_mode", "delivery", "crash"),
    ("login", "payment", "slow", "pricing", "praise"),
    ("export", "notifications"),
)


def report_subsets(rows: list[dict[str, str]]) -> None:
    """Default configuration on a few subsets of themes: fewer topics must not mean one theme per language."""
    print()
    for subset in SUBSETS:
        part = [r for r in rows if r["theme"] in subset]
        run = discover_themes([r["text"] for r in part], [r["language"] for r in part])
        ids, truth = cluster_ids(run, len(part)), [r["theme"] for r in part]
        print(
            f"subset {'+'.join(subset)} ({len(part)} texts): {len(run.themes)} themes, "
            f"purity {purity(truth, ids):.3f}, NMI {nmi(truth, ids):.3f}"
        )


def report_assignment(rows: list[dict[str, str]]) -> None:
    """Discover on rows 0,1 (mod 3), assign rows 2 (mod 3); correct if the theme's majority label matches."""
    train = [r for i, r in enumerate(rows) if i % 3 != 2]
    test = [r for i, r in enumerate(rows) if i % 3 == 2]
    params = ThemeParams()
    run = discover_themes([r["text"] for r in train], [r["language"] for r in train], params)
    majority = {k: Counter(train[i]["theme"] for i in t.members).most_common(1)[0][0] for k, t in enumerate(run.themes)}
    centroids = {k: t.centroid for k, t in enumerate(run.themes)}
    names = run.space.feature_names
    vectors = run.space.transform([r["text"] for r in test], [r["language"] for r in test])
    assigned = correct = 0
    for row, r in zip(test, range(len(test)), strict=True):
        theme, _ = nearest_theme(named_vector(vectors[r], names), centroids, params.assign_threshold)
        if theme is not None:
            assigned += 1
            correct += majority[theme] == row["theme"]
    print(
        f"\nassignment of {len(test)} held-out texts to themes found on {len(train)}: {assigned} assigned "
        f"({assigned / len(test):.0%}), of which {correct / max(assigned, 1):.1%} to a theme whose majority "
        "label is theirs"
    )


def report_sentiment(rows: list[dict[str, str]]) -> None:
    """Accuracy overall and per language, precision / recall per class."""
    truth = [r["sentiment"] for r in rows]
    predicted = [score_sentiment(r["text"], r["language"]).label for r in rows]
    print(f"\nsentiment: accuracy {accuracy(truth, predicted):.3f} over {len(rows)} texts")
    for lang in LANGUAGES:
        idx = [i for i, r in enumerate(rows) if r["language"] == lang]
        print(f"  {lang}: accuracy {accuracy([truth[i] for i in idx], [predicted[i] for i in idx]):.3f}")
    for score in class_scores(truth, predicted, SENTIMENTS):
        print(f"  {score.label:<9} precision {score.precision:.3f}  recall {score.recall:.3f}  (n={score.support})")


def main() -> None:
    """Run every report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    rows = load(parser.parse_args().data)
    report_themes(rows)
    report_subsets(rows)
    report_assignment(rows)
    report_sentiment(rows)


if __name__ == "__main__":
    main()
