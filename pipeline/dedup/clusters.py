"""Clusters from verified pairs (connected components) and one deterministic keeper per cluster.

``strict`` (``verify: keeper``) also checks every member against its cluster's keeper: members
below the threshold are split off and clustered again among themselves, until every removed
document is itself similar to the document it is removed in favour of. Without it, A~B~C chains
may remove C for A although A and C share little (the giant-cluster failure of unverified
union-find).
"""

from __future__ import annotations

import numpy as np

from .lsh import agreement


MAX_ROUNDS = 64
"""Re-clustering rounds in strict mode; nodes still unsettled after that are kept (never removed
without a verified keeper). Only long chains of successive revisions need more than a few."""


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` nodes for the undirected graph of (left, right) edges.

    Union-find as whole-array steps: every edge hooks the larger of its two roots under the smaller
    (``np.minimum.at``), then pointer jumping compresses every path; repeated until each edge's ends
    share a root (a few rounds: paths halve each time). Labels number the components in the order
    of their lowest node, as scipy's ``connected_components`` does (no scipy import per run)."""
    labels = np.arange(n, dtype=np.int64)
    if len(left) == 0:
        return labels
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    while True:
        a, b = labels[left], labels[right]
        differ = a != b
        if not differ.any():
            break
        a, b = a[differ], b[differ]
        low = np.minimum(a, b)
        np.minimum.at(labels, a, low)  # labels[x] <= x always: no cycles
        np.minimum.at(labels, b, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def keepers(labels: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each node, the node of its component with the lowest rank."""
    order = np.lexsort((rank, labels))  # by label, then rank
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    best_of_label = np.empty(labels.max() + 1 if len(labels) else 0, dtype=np.int64)
    best_of_label[labels[order][first]] = order[first]
    return best_of_label[labels]


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    rank: np.ndarray,
    sig: np.ndarray,
    threshold: float,
    strict: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(keeper of each node, estimated Jaccard of each node to its keeper; 1.0 for keepers).

    Each round works on the nodes still unsettled, renumbered 0..m-1, so a long chain costs rounds
    proportional to what is left, not to the corpus.
    """
    keeper = np.arange(n)
    similarity = np.ones(n, dtype=np.float32)
    paired = np.zeros(n, dtype=bool)
    paired[left] = paired[right] = True
    nodes = np.flatnonzero(paired)  # nodes without a verified pair stay alone
    local = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    for _ in range(MAX_ROUNDS):
        if len(nodes) == 0:
            break
        m = len(nodes)
        best = keepers(components(m, *local), rank[nodes])
        keeper[nodes] = nodes[best]
        members = np.flatnonzero(best != np.arange(m))
        sim = agreement(sig, nodes[members], nodes[best[members]])
        similarity[nodes[members]] = sim
        bad = members[sim < threshold] if strict else members[:0]
        if len(bad) == 0:
            break
        # nodes not similar to their keeper: cluster them again, using only the edges among them
        keeper[nodes[bad]] = nodes[bad]
        similarity[nodes[bad]] = 1.0
        is_bad = np.zeros(m, dtype=bool)
        is_bad[bad] = True
        inside = is_bad[local[0]] & is_bad[local[1]]
        renumber = np.full(m, -1, dtype=np.int64)
        renumber[bad] = np.arange(len(bad))
        local = renumber[local[0][inside]], renumber[local[1][inside]]
        nodes = nodes[bad]
    return keeper, similarity
