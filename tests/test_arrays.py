"""pipeline.arrays: batch building blocks shared by the stages."""

from __future__ import annotations

import numpy as np

from pipeline.arrays import code_points, joined_code_points, segment_or


def test_joined_code_points_keeps_each_text_findable():
    texts = ["visit 카지노", "", "Zürich", "😀\ud800"]
    codes, starts = joined_code_points(texts)
    assert starts.tolist() == [0, 9, 9, 15, 17]
    for i, text in enumerate(texts):
        assert codes[starts[i] : starts[i + 1]].tolist() == [ord(c) for c in text]
    assert code_points("😀").tolist() == [0x1F600]


def test_segment_or_per_text_with_empty_ones():
    values = np.array([1, 2, 4, 8, 16], dtype=np.uint8)
    starts = np.array([0, 0, 2, 2, 5])  # texts: [], [1, 2], [], [4, 8, 16]
    assert segment_or(values, starts).tolist() == [0, 3, 0, 28]
    assert segment_or(values[:0], np.array([0, 0])).tolist() == [0]
