"""The vectorised helpers of the quality stage agree with the plain definitions they replace."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import regex

import numpy as np

from pipeline.quality_ngrams import ngram_ratios, ngram_ratios_batch
from pipeline.quality_tokens import tokenize_batch

FIXTURES = Path(__file__).parent / "fixtures" / "langqual"


def reference_ngram_ratios(tokens: list[str], top_ns: list[int], dup_ns: list[int]):
    """Gopher's definitions, by brute force over tuples of tokens."""
    total = sum(map(len, tokens))
    top, dup = {}, {}
    for n in set(top_ns) | set(dup_ns):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        counts: dict[tuple[str, ...], int] = {}
        for g in grams:
            counts[g] = counts.get(g, 0) + 1
        best = max(counts.values(), default=0)
        top[n] = max((sum(map(len, g)) * c for g, c in counts.items() if c == best > 1), default=0) / max(total, 1)
        seen, covered = set(), set()
        for i, g in enumerate(grams):
            if g in seen:
                covered.update(range(i, i + n))
            seen.add(g)
        dup[n] = sum(len(tokens[i]) for i in covered) / max(total, 1)
    return {n: top[n] for n in top_ns}, {n: dup[n] for n in dup_ns}


def test_ngram_ratios_equal_brute_force_on_random_repetitive_tokens():
    rng = random.Random(7)
    for _ in range(300):
        tokens = [rng.choice(["the", "cat", "sat", "on", "a", "mat", "x"][: rng.randint(1, 7)]) for _ in range(rng.randint(0, 40))]
        top_ns, dup_ns = sorted(rng.sample(range(1, 9), 3)), sorted(rng.sample(range(1, 13), 4))
        top, dup = ngram_ratios(tokens, top_ns, dup_ns)
        want_top, want_dup = reference_ngram_ratios(tokens, top_ns, dup_ns)
        assert top == pytest.approx(want_top) and dup == pytest.approx(want_dup), tokens


@pytest.mark.parametrize("name", ["de_news.txt", "hashtags.txt", "bullets.txt", "seo_keywords.txt"])
def test_word_figures_equal_the_regex_definitions(name):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    # edge cases: separators str.split splits on but regex's \s does not, tabs, punctuation-only tokens
    text += "\n12 345 -- ... ¿Qué?\x1cword\tß €5 «» 3½ 中文 ok"
    words = regex.sub(r"[\p{P}\p{S}]+", "", text).split()
    batch = tokenize_batch(["plain words", text])  # a batch of two: the second text is measured alone
    assert batch.words[1] == len(words)
    assert batch.word_chars[1] == sum(map(len, words))
    assert batch.without_letter[1] == len(regex.findall(r"(?<!\S)[^\s\p{L}]+(?!\S)", text))
    assert batch.without_letter[1] > 0


def test_word_figures_of_empty_and_blank_text():
    batch = tokenize_batch(["", " \n\t"])
    assert batch.words.tolist() == batch.without_letter.tolist() == [0, 0]


def random_token_batch(rng: random.Random, docs: int, longest: int) -> tuple[list[list[str]], np.ndarray, np.ndarray, np.ndarray]:
    """Documents of words from a small vocabulary (many repeats), and their ids, lengths and offsets."""
    texts = [[rng.choice("the cat sat on a mat".split()[: rng.randint(1, 6)]) for _ in range(rng.randint(0, longest))] for _ in range(docs)]
    vocab = {w: i for i, w in enumerate(sorted({w for doc in texts for w in doc}))}
    flat = [w for doc in texts for w in doc]
    ids = np.array([vocab[w] for w in flat], dtype=np.uint64)
    lengths = np.array([len(w) for w in flat], dtype=np.int64)
    return texts, ids, lengths, np.cumsum([0] + [len(doc) for doc in texts])


def test_batched_ngram_ratios_equal_brute_force_per_document():
    docs, ids, lengths, offsets = random_token_batch(random.Random(11), 60, 40)
    top, dup = ngram_ratios_batch(ids, lengths, offsets, [2, 3, 4], [5, 7, 10])
    for d, doc in enumerate(docs):
        want_top, want_dup = reference_ngram_ratios(doc, [2, 3, 4], [5, 7, 10])
        assert {n: top[n][d] for n in want_top} == pytest.approx(want_top), doc
        assert {n: dup[n][d] for n in want_dup} == pytest.approx(want_dup), doc


def test_dup_shares_never_grow_with_n_so_settled_documents_may_stop():
    rng = random.Random(12)
    docs, ids, lengths, offsets = random_token_batch(rng, 80, 60)
    sizes = [2, 3, 4, 5, 6, 7, 8, 9, 10]
    _, full = ngram_ratios_batch(ids, lengths, offsets, [2, 3], sizes)
    for d, doc in enumerate(docs):
        _, want = reference_ngram_ratios(doc, [2], sizes)
        assert [full[n][d] for n in sizes] == pytest.approx([want[n] for n in sizes])
        assert all(full[a][d] >= full[b][d] for a, b in zip(sizes, sizes[1:])), doc
    enough = np.array([rng.choice([0.0, 0.3, 0.6, np.inf]) for _ in docs])
    _, quick = ngram_ratios_batch(ids, lengths, offsets, [2, 3], sizes, dup_enough=enough)
    stopped = 0
    for d in range(len(docs)):
        for n in sizes:  # each value is the full one, or left at 0 once a smaller n was within the bound
            settled = any(full[m][d] <= enough[d] for m in sizes if 3 <= m < n)
            assert quick[n][d] == full[n][d] or (settled and quick[n][d] == 0 and full[n][d] <= enough[d])
            stopped += quick[n][d] != full[n][d]
    assert stopped  # some later passes were skipped


def test_ngram_groups_fall_back_to_exact_keys_when_low_bits_differ_only():
    from pipeline.quality_ngrams import _ngram_groups

    # 8 keys: positions take the low 4 bits, so keys 0x10 | 1 and 0x10 | 2 share their high bits
    keys = np.array([0x11, 0x12, 0x11, 0x40, 0x12, 0x11, 0x40, 0x99], dtype=np.uint64)
    positions, new_group, _, counts = _ngram_groups(keys, np.arange(8))
    groups = np.split(positions, np.flatnonzero(new_group)[1:])
    assert sorted(g.tolist() for g in groups) == [[0, 2, 5], [1, 4], [3, 6], [7]]  # each in text order
    assert sorted(counts.tolist()) == [1, 2, 2, 3]


def test_batched_ngram_ratios_with_empty_documents_at_both_ends():
    docs = [[], ["a", "b", "a", "b", "a", "b"], [], ["c", "c", "c", "c", "c", "c"], []]
    flat = [w for doc in docs for w in doc]
    ids = np.array([ord(w) for w in flat], dtype=np.uint64)
    offsets = np.cumsum([0] + [len(doc) for doc in docs])
    top, dup = ngram_ratios_batch(ids, np.ones(len(flat), dtype=np.int64), offsets, [2], [3])
    for d, doc in enumerate(docs):
        want_top, want_dup = reference_ngram_ratios(doc, [2], [3])
        assert (top[2][d], dup[3][d]) == pytest.approx((want_top[2], want_dup[3])), doc


def test_char_classes_come_back_from_the_disk_cache_unchanged(tmp_path, monkeypatch):
    from pipeline import quality_tokens

    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path))
    built = quality_tokens._build_char_classes()
    try:
        quality_tokens.char_classes.cache_clear()
        assert (quality_tokens.char_classes() == built).all()  # computed, then stored
        (stored,) = tmp_path.glob("quality-char-classes-*.npy")
        quality_tokens.char_classes.cache_clear()
        assert (quality_tokens.char_classes() == built).all()  # read back
        stored.write_bytes(stored.read_bytes()[:1000])  # cut short
        quality_tokens.char_classes.cache_clear()
        assert (quality_tokens.char_classes() == built).all()  # a damaged file is built again
    finally:
        quality_tokens.char_classes.cache_clear()


def test_top_ngram_share_past_four_billion_characters_takes_the_exact_path():
    # shares do not change when every token is 2**33 times longer (exact in floating point), but
    # count x characters then no longer packs into 64 bits: the per-document max falls back to a sort
    docs, ids, lengths, offsets = random_token_batch(random.Random(13), 40, 40)
    top, dup = ngram_ratios_batch(ids, lengths, offsets, [2, 3], [5])
    huge_top, huge_dup = ngram_ratios_batch(ids, lengths << 33, offsets, [2, 3], [5])
    assert all((top[n] == huge_top[n]).all() for n in top) and (dup[5] == huge_dup[5]).all()
    assert (top[2] > 0).sum() > 10


def test_ngram_ratios_stay_exact_when_hash_buckets_are_few_and_crowded(monkeypatch):
    # big batches cap the bucket tables (memory): every bucket is then shared, and the pre-filters
    # must still only narrow the candidates, never drop a repeat
    import pipeline.quality_ngrams as ngrams

    monkeypatch.setattr(ngrams, "_BUCKET_BITS", (2, 2))
    docs, ids, lengths, offsets = random_token_batch(random.Random(17), 30, 40)
    top, dup = ngram_ratios_batch(ids, lengths, offsets, [2, 3], [5, 8])
    for d, doc in enumerate(docs):
        want_top, want_dup = reference_ngram_ratios(doc, [2, 3], [5, 8])
        assert {n: top[n][d] for n in want_top} == pytest.approx(want_top), doc
        assert {n: dup[n][d] for n in want_dup} == pytest.approx(want_dup), doc
