"""Clustering quality against a known truth: pairwise precision/recall/F1 and the adjusted Rand index,
and, on the synthetic benchmark corpus, recall per kind of near-duplicate.

Pair figures are computed from the contingency table of (true cluster, predicted cluster) labels, so they
take O(n log n) numpy time even at a million documents.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from benchmarks.corpus import VARIANT_KINDS, Corpus
from pipeline.dedup.clusters import components


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """Pairwise P/R/F1 (a pair = two documents in one cluster) and ARI of two labelings."""
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    if truth.shape != predicted.shape:
        raise ValueError("truth and predicted must label the same documents")
    n = len(truth)
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(predicted, return_inverse=True)
    _, joint = np.unique(t.astype(np.int64) * (int(p.max(initial=0)) + 1) + p, return_counts=True)
    both = _pairs(joint)
    true_pairs = _pairs(np.bincount(t))
    pred_pairs = _pairs(np.bincount(p))
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    all_pairs = n * (n - 1) // 2
    expected = true_pairs * pred_pairs / all_pairs if all_pairs else 0.0
    denominator = (true_pairs + pred_pairs) / 2 - expected
    ari = (both - expected) / denominator if denominator else 1.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "ari": round(ari, 4),
        "true_pairs": true_pairs,
        "predicted_pairs": pred_pairs,
        "correct_pairs": both,
    }


def labels_from_links(n: int, links: Iterable[tuple[int, int]]) -> np.ndarray:
    """Cluster labels for documents 0..n-1 given (duplicate, kept) links; unlinked ones are alone."""
    pairs = np.array(list(links), dtype=np.int64).reshape(-1, 2)
    return components(n, pairs[:, 0], pairs[:, 1])


def dedup_quality(corpus: Corpus, links: list[tuple[int, int]], n: int, excluded: list[int] = ()) -> dict:
    """Pairwise scores on the first ``n`` documents (minus ``excluded``, e.g. rejected ones), and
    recall per variant kind: how often a variant lands in its original's predicted cluster."""
    predicted = labels_from_links(n, links)
    keep = np.ones(n, bool)
    keep[list(excluded)] = False
    truth = corpus.cluster[:n]
    scores = pair_scores(truth[keep], predicted[keep])
    variant = corpus.variant[:n]
    original_at = np.full(int(corpus.cluster.max()) + 1, -1, np.int64)
    is_original = (variant & 1).astype(bool)
    original_at[truth[is_original]] = np.flatnonzero(is_original)
    origin = original_at[truth]
    usable = keep & ~is_original & (origin >= 0)
    usable[usable] &= keep[origin[usable]]
    hit = np.zeros(n, bool)
    hit[usable] = predicted[usable] == predicted[origin[usable]]
    recall: dict[str, Any] = {}
    for bit, kind in enumerate(VARIANT_KINDS[1:], start=1):
        mask = usable & ((variant >> bit) & 1).astype(bool)
        recall[kind] = round(float(hit[mask].mean()), 4) if mask.any() else None
    near = usable & (variant >= 4)  # any near-duplicate operation (bits 2+)
    sim = corpus.jaccard[:n]
    for name, mask in (("jaccard>=0.8", near & (sim >= 0.8)), ("jaccard<0.8", near & (sim < 0.8))):
        recall[name] = round(float(hit[mask].mean()), 4) if mask.any() else None
    scores["variant_recall"] = recall
    return scores
