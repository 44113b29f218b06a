"""Units and number words, for answers that must compare equal however they are written.

`unit_symbol` maps the ways a unit is written (`km`, `kms`, `kilometre`, `kilometers`)
to one symbol (`km`); `number_words` reads an English number written in words
(`twelve`, `twenty-one`, `three hundred and five`). `answers.py` uses both: the cases
each rule covers are listed in docs/quality.md and tested in tests/runtime/test_answers.py.
"""

from __future__ import annotations

from functools import cache

# symbol: spellings (singular and plural, British and American, abbreviations).
UNITS: dict[str, tuple[str, ...]] = {
    "mm": ("millimetre", "millimetres", "millimeter", "millimeters"),
    "cm": ("centimetre", "centimetres", "centimeter", "centimeters", "cms"),
    "m": ("metre", "metres", "meter", "meters", "mtr", "mtrs"),
    "km": ("kilometre", "kilometres", "kilometer", "kilometers", "kms", "klick", "klicks"),
    "in": ("inch", "inches", '"'),
    "ft": ("foot", "feet", "'"),
    "yd": ("yard", "yards", "yds"),
    "mi": ("mile", "miles"),
    "mg": ("milligram", "milligrams", "milligramme", "milligrammes"),
    "g": ("gram", "grams", "gramme", "grammes", "gm", "gms", "gr"),
    "kg": ("kilogram", "kilograms", "kilogramme", "kilogrammes", "kilo", "kilos", "kgs"),
    "t": ("tonne", "tonnes", "metric ton", "metric tons"),
    "lb": ("pound", "pounds", "lbs"),
    "oz": ("ounce", "ounces"),
    "ml": ("millilitre", "millilitres", "milliliter", "milliliters", "mls"),
    "l": ("litre", "litres", "liter", "liters", "ltr", "ltrs"),
    "s": ("second", "seconds", "sec", "secs"),
    "min": ("minute", "minutes", "mins"),
    "h": ("hour", "hours", "hr", "hrs"),
    "day": ("days", "d"),
    "week": ("weeks", "wk", "wks"),
    "month": ("months", "mo", "mos"),
    "year": ("years", "yr", "yrs", "y"),
    "km/h": ("kmh", "kph", "km/hr", "kilometres per hour", "kilometers per hour"),
    "mph": ("mi/h", "miles per hour"),
    "m/s": ("metres per second", "meters per second", "mps"),
    "°": ("degree", "degrees", "deg"),
    "°c": ("c", "degrees celsius", "degree celsius", "degrees c", "celsius", "℃"),
    "°f": ("f", "degrees fahrenheit", "degree fahrenheit", "degrees f", "fahrenheit", "℉"),
    "k": ("kelvin", "kelvins"),
    "%": ("percent", "per cent", "pct"),
    "$": ("dollar", "dollars", "usd", "us$", "bucks"),
    "€": ("euro", "euros", "eur"),
    "£": ("pound sterling", "pounds sterling", "gbp"),
    "¥": ("yen", "jpy", "yuan", "cny", "rmb"),
    "₹": ("rupee", "rupees", "inr", "rs"),
    "₩": ("won", "krw"),
    "m²": ("m2", "sq m", "square metre", "square metres", "square meter", "square meters"),
    "km²": ("km2", "sq km", "square kilometre", "square kilometres", "square kilometer",
            "square kilometers"),
    "cm²": ("cm2", "sq cm", "square centimetre", "square centimetres", "square centimeter",
            "square centimeters"),
    "m³": ("m3", "cubic metre", "cubic metres", "cubic meter", "cubic meters"),
    "cm³": ("cm3", "cc", "cubic centimetre", "cubic centimetres", "cubic centimeter",
            "cubic centimeters"),
    "j": ("joule", "joules"),
    "kj": ("kilojoule", "kilojoules"),
    "cal": ("calorie", "calories"),
    "kcal": ("kilocalorie", "kilocalories"),
    "w": ("watt", "watts"),
    "kw": ("kilowatt", "kilowatts"),
    "v": ("volt", "volts"),
    "a": ("amp", "amps", "ampere", "amperes"),
    "n": ("newton", "newtons"),
    "pa": ("pascal", "pascals"),
    "hz": ("hertz",),
    "mol": ("mole", "moles", "mols"),
}  # fmt: skip


@cache
def _spellings() -> dict[str, str]:
    table: dict[str, str] = {}
    for symbol, spellings in UNITS.items():
        table[symbol] = symbol
        for spelling in spellings:
            table.setdefault(spelling, symbol)
    return table


def unit_symbol(text: str) -> str | None:
    """The symbol of a unit written any of the ways in `UNITS` (case-folded), else None."""
    key = " ".join(text.casefold().replace(".", "").split())
    return _spellings().get(key)


_ONES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def number_words(text: str) -> int | None:
    """An English cardinal written in words (`twenty-one`, `three hundred and five`,
    `a dozen` is not one), or None when the text is anything else."""
    tokens = text.casefold().replace("-", " ").replace(",", " ").split()
    if not tokens:
        return None
    negative = tokens[0] in ("minus", "negative")
    if negative:
        tokens = tokens[1:]
    total = current = 0
    seen = False
    for token in tokens:
        if token == "and" and seen:
            continue
        if token in _ONES:
            current += _ONES[token]
        elif token == "hundred" and seen:
            current = (current or 1) * 100
        elif token in _SCALES and seen:
            total += (current or 1) * _SCALES[token]
            current = 0
        else:
            return None
        seen = True
    if not seen:
        return None
    value = total + current
    return -value if negative else value
