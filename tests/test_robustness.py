"""Bad input never crashes a run or loses a record: readers, accounting invariant (hypothesis), fuzz."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import fs, readers
from pipeline.config import InputConfig, load_config
from pipeline.document import Document
from pipeline.readers import InputError, Reader
from pipeline.runner import run
from pipeline.stages.base import Stage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "default.yaml"
ARTICLES = [orjson.loads(line) for line in (Path(__file__).parent / "fixtures" / "articles.jsonl").read_bytes().splitlines()]


def many_records(n: int) -> list[dict]:
    """n distinct realistic records built from the fixture articles."""
    return [
        {"id": f"{a['id']}-{i}", "url": a["url"], "text": f"{a['text']}\n\nUpdate {i}: corrections appended."}
        for i in range(n)
        for a in [ARTICLES[i % len(ARTICLES)]]
    ]


def jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def read_all(*paths: Path, **cfg) -> list:
    return list(Reader(list(paths), InputConfig(**cfg)))


def doc_ids(items: list) -> list[str]:
    return [i.id for i in items if isinstance(i, Document)]


def errors(items: list) -> list[InputError]:
    return [i for i in items if isinstance(i, InputError)]


# -- compressed streams that end early or are corrupt --------------------------------------------


@pytest.mark.parametrize("compress", [gzip.compress, lambda b: zstandard.ZstdCompressor().compress(b)], ids=["gzip", "zstd"])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.97])
def test_truncated_stream_keeps_records_before_the_cut_and_adds_one_error(tmp_path, compress, keep):
    records = many_records(3000)  # zstd decodes whole 128 KB blocks: a cut loses the block it hits
    data = compress(jsonl_bytes(records))
    path = tmp_path / "part-0001.jsonl.gz"
    path.write_bytes(data[: int(len(data) * keep)])
    items = read_all(path)
    ids = doc_ids(items)
    (err,) = errors(items)
    assert items[-1] is err  # the error comes after every record that could be read
    assert ids == [r["id"] for r in records[: len(ids)]]  # a prefix, in order, nothing invented
    assert 0 < len(ids) < len(records) or keep < 0.05
    assert err.line == len(ids) + 1 and "ends early" in err.error


def test_gzip_corrupt_mid_stream_keeps_line_count(tmp_path):
    records = many_records(3000)
    data = bytearray(gzip.compress(jsonl_bytes(records), compresslevel=1))
    mid = len(data) // 2
    data[mid : mid + 40] = bytes(40)  # a run of zero bytes in the middle of the deflate stream
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(bytes(data))
    items = read_all(path)
    stream_errors = [e for e in errors(items) if "gzip" in e.error]
    assert len(stream_errors) == 1 and items[-1] is stream_errors[0]
    lines_before = len(items) - 1  # every earlier item is one line (documents or per-line errors)
    assert stream_errors[0].line == lines_before + 1
    assert doc_ids(items)[:5] == [r["id"] for r in records[:5]]


def test_compression_recognised_by_content_and_multi_member_gzip(tmp_path):
    records = many_records(6)
    misnamed = tmp_path / "a.jsonl"  # gzip data without a .gz suffix
    misnamed.write_bytes(gzip.compress(jsonl_bytes(records[:3])))
    members = tmp_path / "b.jsonl.gz"  # two gzip members, as `cat x.gz y.gz` makes, then zero padding
    members.write_bytes(gzip.compress(jsonl_bytes(records[3:5])) + gzip.compress(jsonl_bytes(records[5:])) + bytes(16))
    items = read_all(misnamed, members)
    assert doc_ids(items) == [r["id"] for r in records] and not errors(items)


@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
def test_reading_does_not_depend_on_chunk_boundaries(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    body = jsonl_bytes(many_records(5)) + b"\n   \n{bad json\n" + orjson.dumps({"id": "big", "text": "x" * 900}) + b"\n"
    body += orjson.dumps({"id": "last", "text": ARTICLES[0]["text"]})  # no final newline
    (tmp_path / "x.jsonl").write_bytes(body)
    (tmp_path / "y.jsonl.gz").write_bytes(gzip.compress(body))
    for name in ("x.jsonl", "y.jsonl.gz"):
        items = read_all(tmp_path / name, max_chars=100)
        summary = [(i.id, i.source["line"]) if isinstance(i, Document) else (i.line, i.error.split(" ")[0]) for i in items]
        assert summary == [
            ("bbc-001-0", 1), ("local-017-1", 2), ("sci-204-2", 3), ("sport-88-3", 4), ("biz-310-4", 5),
            (8, "malformed"), (9, "line"), ("last", 10),  # 9: 900-char line over 8 x 100 bytes: not read
        ]


# -- text, encodings, binary and unknown files ---------------------------------------------------


def test_encodings_of_text_files(tmp_path):
    text = "Café owners in Zürich say the new rules are “unworkable”."
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "latin1.txt").write_bytes(text.encode("cp1252"))
    items = read_all(tmp_path)
    by_id = {i.id: i.text for i in items if isinstance(i, Document)}
    assert by_id == {"bom": text, "utf16": text}
    (err,) = errors(items)
    assert err.source.endswith("latin1.txt") and err.line is None
    assert err.error == "invalid UTF-8 at byte 3"  # the cp1252 "é" of "Café"


def test_jsonl_line_with_invalid_utf8_inside_a_string(tmp_path):
    good = orjson.dumps({"id": "ok", "text": ARTICLES[2]["text"]})
    bad = b'{"id": "bad", "text": "Caf\xe9 opens"}'
    surrogate = b'{"id": "sur", "text": "lone \\ud800 surrogate"}'
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join([good, bad, surrogate, good.replace(b'"ok"', b'"ok2"')]) + b"\n")
    items = read_all(path)
    assert doc_ids(items) == ["ok", "ok2"]
    assert [(e.line, e.error) for e in errors(items)] == [
        (2, "invalid UTF-8 at byte 26"),
        (3, errors(items)[1].error),
    ]
    assert errors(items)[1].error.startswith("malformed JSON") and "surrogate" in errors(items)[1].error


def test_binary_unknown_and_special_files_are_one_error_each(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.jsonl").write_bytes(jsonl_bytes(many_records(2)))
    (src / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(200))
    (src / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    (src / "export.jsonl").write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + os.urandom(300))  # a zip named .jsonl
    (src / "blob.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(64))
    os.mkfifo(src / "pipe.jsonl")  # would block a naive reader forever
    (src / ".git").mkdir()
    (src / ".git" / "HEAD.jsonl").write_text("ignored: hidden directories are not walked")
    items = read_all(src)
    assert doc_ids(items) == ["bbc-001-0", "local-017-1"]
    errs = {Path(e.source).name: e.error for e in errors(items)}
    assert errs == {
        ".DS_Store": "unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)",
        "photo.png": "unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)",
        "export.jsonl": "binary file (NUL bytes in the first line), not JSONL",
        "blob.txt": "binary file (NUL bytes), not text",
        "pipe.jsonl": "not a regular file",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_and_directory(tmp_path):
    (tmp_path / "locked.jsonl").write_bytes(jsonl_bytes(many_records(1)))
    (tmp_path / "locked.jsonl").chmod(0)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jsonl").write_bytes(jsonl_bytes(many_records(1)))
    (tmp_path / "sub").chmod(0)
    try:
        items = read_all(tmp_path)
    finally:
        (tmp_path / "sub").chmod(0o755)
    assert sorted(e.error.split(":")[0] for e in errors(items)) == ["cannot list directory", "cannot read file"]


def test_unreadable_file_and_directory_simulated(tmp_path, monkeypatch):
    """The same failures as above, injected at the OS calls (runs as root too)."""
    (tmp_path / "locked.jsonl").write_bytes(jsonl_bytes(many_records(1)))
    (tmp_path / "fine.jsonl").write_bytes(jsonl_bytes(many_records(2)))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jsonl").write_bytes(jsonl_bytes(many_records(1)))
    real_open, real_scandir = open, os.scandir

    def deny_open(path, *args, **kwargs):
        if Path(path).name == "locked.jsonl":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def deny_scandir(path="."):
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(fs, "open", deny_open, raising=False)  # input files are opened in pipeline.fs
    monkeypatch.setattr(os, "scandir", deny_scandir)
    items = read_all(tmp_path)
    assert doc_ids(items) == ["bbc-001-0", "local-017-1"]
    assert sorted((Path(e.source).name, e.error) for e in errors(items)) == [
        ("locked.jsonl", "cannot read file: Permission denied"),
        ("sub", "cannot list directory: Permission denied"),
    ]


def test_huge_documents_rejected_with_rule_or_not_read(tmp_path, read_output):
    path = tmp_path / "x.jsonl"
    records = [
        {"id": "fits", "text": ARTICLES[2]["text"][:300]},
        {"id": "too-large", "text": ARTICLES[0]["text"]},  # > max_chars, < 8 x max_chars bytes
        {"id": "enormous", "text": "word " * 1000},  # > 8 x max_chars bytes: never parsed
    ]
    path.write_bytes(jsonl_bytes(records))
    out = tmp_path / "out"
    report = run([path], load_config(DEFAULT, ["input.max_chars=320"]), out, workers=1)
    got = read_output(out)
    assert [r["id"] for r in got["clean"]] == ["fits"]
    assert [(r["id"], r["stage"], r["rule"]) for r in got["rejected"]] == [("too-large", "input", "too_large")]
    assert got["rejected"][0]["text"] == records[1]["text"]  # rejected, never truncated
    assert [(e["line"], "2560 byte limit" in e["error"]) for e in got["errors"]] == [(3, True)]
    assert report["accounted"]


def test_input_fields_named_like_winnows_own_metadata_are_kept(tmp_path, read_output):
    record = {"id": "a", "source": "cc-2024-10", "boilerplate": "v2", "lang": "en", "text": ARTICLES[1]["text"]}
    (tmp_path / "x.jsonl").write_bytes(jsonl_bytes([record]))
    run([tmp_path / "x.jsonl"], load_config(DEFAULT), tmp_path / "out", workers=1)
    (clean,) = read_output(tmp_path / "out")["clean"]
    meta = clean["metadata"]
    assert meta["source"] == {"path": str(tmp_path / "x.jsonl"), "line": 1} and meta["lang"] == "en"
    assert meta["input_fields"] == {"source": "cc-2024-10", "boilerplate": "v2"}


class Fragile(Stage):
    """A test stage with a bug some input triggers: it cuts a line, then chokes on a football score."""

    name = "fragile"

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            doc.remove(self.name, "first_line", doc.text.split("\n", 1)[0], 0)
            doc.text = doc.text.split("\n", 1)[-1]
            doc.annotations[self.name] = {"cut_lines": 1}  # in place, before it fails
            if "one-nil" in doc.text:
                raise ValueError("cannot parse score 'one-nil'")


@pytest.fixture
def fragile_registered(monkeypatch):
    from pipeline import stages

    monkeypatch.setitem(stages._REGISTRY, "fragile", f"{__name__}:Fragile")


@pytest.mark.parametrize("batch_size", [1, 4, 256])
def test_a_document_that_crashes_a_stage_is_rejected_not_the_run(tmp_path, read_output, fragile_registered, batch_size):
    (tmp_path / "x.jsonl").write_bytes(jsonl_bytes(ARTICLES))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"runner:\n  batch_size: {batch_size}\nstages:\n  - normalize: {{}}\n  - fragile: {{}}\n")
    report = run([tmp_path / "x.jsonl"], load_config(cfg), tmp_path / "out", workers=1)
    got = read_output(tmp_path / "out")
    (rej,) = got["rejected"]
    assert (rej["id"], rej["stage"], rej["rule"]) == ("sport-88", "fragile", "stage_error")
    assert rej["reason"] == "ValueError: cannot parse score 'one-nil'"
    assert rej["text"] == ARTICLES[3]["text"]  # the stage's half-done edits were undone
    assert "removed" not in rej["metadata"] and "fragile" not in rej["metadata"]  # annotations too, after two tries
    assert [r["id"] for r in got["clean"]] == [a["id"] for a in ARTICLES if a["id"] != "sport-88"]
    assert all(len(r["metadata"]["removed"]) == 1 for r in got["clean"])  # each edit applied exactly once
    assert report["accounted"]


# -- the accounting invariant over generated messy input (hypothesis) ----------------------------

TEXTS = [a["text"] for a in ARTICLES]

line_kinds = st.one_of(
    st.tuples(st.just("doc"), st.sampled_from(TEXTS), st.booleans()),
    st.tuples(st.just("dup"), st.sampled_from(TEXTS), st.booleans()),  # same text as an earlier document
    st.tuples(st.just("empty"), st.sampled_from(["", "   ", "\n\t"]), st.booleans()),
    st.tuples(st.just("bad"), st.sampled_from([b"{not json", b"[1, 2, 3]", b'"just a string"', b"42", b"null",
                                               b'{"id": "x", "text": 7}', b'{"id": "y"}', b'{"text": ["a"]}',
                                               b'{"text": "Caf\xe9"}', b"\xff\xfegarbage", b'{"text": "\\udfff"}']), st.booleans()),
    st.tuples(st.just("blank"), st.sampled_from([b"", b"   ", b"\r"]), st.booleans()),
)


@st.composite
def messy_corpus(draw):
    files = draw(st.lists(st.lists(line_kinds, max_size=25), min_size=1, max_size=3))
    gz = draw(st.lists(st.booleans(), min_size=len(files), max_size=len(files)))
    stray = draw(st.sampled_from([None, ".DS_Store", "README.md", "logo.png"]))  # not input, still accounted
    return files, gz, stray


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=messy_corpus())
def test_every_record_accounted_for_exactly_once(tmp_path_factory, corpus):
    files, gz, stray = corpus
    src = tmp_path_factory.mktemp("messy")
    expected_docs: set[str] = set()
    expected_errors: set[tuple[str, int | None]] = set()
    if stray:
        (src / stray).write_bytes(b"\x00\x00\x00\x01Bud1" if stray == ".DS_Store" else b"# notes\n")
        expected_errors.add((str(src / stray), None))
    counter = 0
    for f, (lines, compressed) in enumerate(zip(files, gz)):
        path = src / (f"f{f}.jsonl.gz" if compressed else f"f{f}.jsonl")
        body = []
        for line_no, (kind, payload, with_id) in enumerate(lines, start=1):
            counter += 1
            if kind in ("doc", "dup", "empty"):
                text = payload if kind != "doc" else f"{payload} (item {counter})"
                rec = {"id": f"id-{counter}", "text": text} if with_id else {"text": text}
                body.append(orjson.dumps(rec))
                expected_docs.add(f"id-{counter}" if with_id else f"f{f}:{line_no}")
            elif kind == "bad":
                body.append(payload)
                expected_errors.add((str(path), line_no))
            else:
                body.append(payload)
        data = b"\n".join(body) + b"\n"
        path.write_bytes(gzip.compress(data) if compressed else data)

    out = src / "out"
    report = run([src], load_config(DEFAULT), out, workers=1)
    records = {name: [orjson.loads(l) for l in (out / f"{name}.jsonl").read_bytes().splitlines()]
               for name in ("clean", "rejected", "duplicates", "errors")}
    out_ids = [r["id"] for name in ("clean", "rejected", "duplicates") for r in records[name]]
    assert len(out_ids) == len(set(out_ids)) and set(out_ids) == expected_docs
    assert {(e["source"], e["line"]) for e in records["errors"]} == expected_errors
    assert len(records["errors"]) == len(expected_errors)
    docs = report["documents"]
    assert docs["input"] == len(expected_docs) + len(expected_errors) and report["accounted"]


# -- fuzz: whatever the bytes, the readers never raise --------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.lists(st.sampled_from([b"{", b"}", b'"text"', b":", b'"a\xc3', b"\n", b"\x00", b"\\u", b"[", b'"id"', b",", b"\xef\xbb\xbf"]),
                 max_size=60).map(b"".join),
    ),
    wrapper=st.sampled_from(["plain", "gzip", "gzip-cut", "zstd-cut", "zlib-in-gz"]),
    name=st.sampled_from(["x.jsonl", "x.jsonl.gz", "x.txt", "x.jsonl.zst"]),
    cut=st.floats(0, 1),
)
def test_fuzz_readers_never_raise(tmp_path_factory, data, wrapper, name, cut):
    if wrapper == "gzip":
        data = gzip.compress(data)
    elif wrapper == "gzip-cut":
        full = gzip.compress(data)
        data = full[: int(len(full) * cut)]
    elif wrapper == "zstd-cut":
        full = zstandard.ZstdCompressor().compress(data)
        data = full[: int(len(full) * cut)]
    elif wrapper == "zlib-in-gz":
        data = b"\x1f\x8b" + zlib.compress(data)  # gzip magic, then garbage header
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    items = list(Reader([path], InputConfig(max_chars=50)))
    for item in items:
        assert isinstance(item, (Document, InputError))
        if isinstance(item, Document):
            orjson.dumps(item.text)  # every text that gets through can be written out
    lines = [i.line for i in items if isinstance(i, InputError) and i.line is not None]
    lines += [i.source["line"] for i in items if isinstance(i, Document) and "line" in i.source]
    assert len(lines) == len(set(lines))  # no line is counted twice
