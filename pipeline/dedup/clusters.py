"""Clusters from verified pairs (connected components) and one deterministic keeper per cluster.

``strict`` (``verify: keeper``) also checks every member against its cluster's keeper: members
below the threshold are split off and clustered again among themselves, until every removed
document is itself similar to the document it is removed in favour of. Without it, A~B~C chains
may remove C for A although A and C share little (the giant-cluster failure of unverified
union-find).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .lsh import agreement


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` nodes for the undirected graph of (left, right) edges."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


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
    """(keeper of each node, estimated Jaccard of each node to its keeper; 1.0 for keepers)."""
    labels = components(n, left, right)
    keeper = keepers(labels, rank)
    similarity = np.ones(n, dtype=np.float32)
    pending = np.flatnonzero(keeper != np.arange(n))
    while len(pending):
        similarity[pending] = agreement(sig, pending, keeper[pending])
        if not strict:
            break
        bad = pending[similarity[pending] < threshold]
        if len(bad) == 0:
            break
        # re-cluster the nodes that are not similar to their keeper, using only edges among them
        is_bad = np.zeros(n, dtype=bool)
        is_bad[bad] = True
        inside = is_bad[left] & is_bad[right]
        left, right = left[inside], right[inside]
        local = np.full(n, -1, dtype=np.int64)
        local[bad] = np.arange(len(bad))
        sub_labels = components(len(bad), local[left], local[right])
        sub_keeper = bad[keepers(sub_labels, rank[bad])]
        keeper[bad] = sub_keeper
        similarity[bad] = 1.0
        pending = bad[sub_keeper != bad]
    return keeper, similarity
