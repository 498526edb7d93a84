"""Transcript normalisation: free text -> the lower-case word sequence an aligner can say.

Numbers, money, times, ordinals, percentages and common abbreviations are spoken out in
words, because the aligner needs every sound the speaker made to have a word. Pure Python
and deterministic: the same text always gives the same words.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

# Abbreviation (lower case, without the final period) -> spoken words. Applied to tokens
# written with a period, plus the unambiguous ones without ('mr', 'mrs', 'dr').
_ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "st": "saint",
    "prof": "professor", "jr": "junior", "sr": "senior", "vs": "versus", "etc": "et cetera",
    "e.g": "for example", "i.e": "that is", "approx": "approximately",
    "dept": "department", "mt": "mount", "ft": "feet", "lb": "pounds", "lbs": "pounds",
    "oz": "ounces", "km": "kilometers", "kg": "kilograms", "cm": "centimeters",
    "mm": "millimeters", "min": "minutes", "hr": "hours", "hrs": "hours", "sec": "seconds",
    "co": "company", "inc": "incorporated", "ltd": "limited", "ave": "avenue",
    "blvd": "boulevard", "rd": "road", "gen": "general", "gov": "governor",
    "sgt": "sergeant", "capt": "captain", "lt": "lieutenant", "col": "colonel",
    "a.m": "a m", "p.m": "p m", "u.s": "u s", "u.k": "u k",
}
# Abbreviations that are also ordinary words ("no", "co", "min", "st" as "street"...) are
# only expanded when written with a period; these few are safe without one.
_BARE_ABBREVIATIONS = {"mr", "mrs", "dr", "vs", "etc", "prof", "jr", "sr"}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents")}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ",
            "#": " number "}


def number_words(n: int) -> list[str]:
    """Cardinal number as words: 42 -> ['forty', 'two']; 1005 -> ['one', 'thousand', 'five']."""
    if n < 0:
        return ["minus"] + number_words(-n)
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_words(head) + [name] + (number_words(rest) if rest else [])
    raise AssertionError("unreachable")


def year_words(n: int) -> list[str]:
    """A year as people say it: 1999 -> nineteen ninety nine; 2005 -> two thousand five;
    2024 -> twenty twenty four; 1900 -> nineteen hundred."""
    if 2000 <= n <= 2009:
        return number_words(n)
    head, tail = divmod(n, 100)
    if tail == 0:
        return number_words(head) + ["hundred"]
    if tail < 10:
        return number_words(head) + ["oh"] + number_words(tail)
    return number_words(head) + number_words(tail)


def ordinal_words(n: int) -> list[str]:
    """21 -> ['twenty', 'first']; 12 -> ['twelfth']; 100 -> ['one', 'hundredth']."""
    words = number_words(n)
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last = last + "th"
    return words[:-1] + [last]


def _digits_words(digits: str) -> list[str]:
    return [_ONES[int(c)] for c in digits]


def _integer_words(digits: str, *, allow_year: bool) -> list[str]:
    """Digits (commas removed) -> words; four-digit numbers 1100..2099 read as years."""
    if len(digits) > 1 and digits.startswith("0"):
        # Leading zeros (codes, '007'): read digit by digit.
        return _digits_words(digits)
    n = int(digits)
    if allow_year and len(digits) == 4 and 1100 <= n <= 2099:
        return year_words(n)
    if len(digits) > 15:
        return _digits_words(digits)
    return number_words(n)


def _decimal_words(whole: str, frac: str) -> list[str]:
    head = _integer_words(whole, allow_year=False) if whole else ["zero"]
    return head + ["point"] + _digits_words(frac)


def _money_words(symbol: str, amount: str) -> list[str]:
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    whole, _, frac = amount.replace(",", "").partition(".")
    units = int(whole) if whole else 0
    cents = int((frac + "00")[:2]) if frac else 0
    words: list[str] = []
    if units or not cents:
        words += number_words(units) + [one if units == 1 else many]
    if cents:
        words += number_words(cents) + [sub_one if cents == 1 else sub_many]
    return words


def _time_words(hours: str, minutes: str) -> list[str]:
    h, m = int(hours), int(minutes)
    words = number_words(h)
    if m == 0:
        return words + ["o'clock"] if h <= 12 else words + ["hundred"]
    if m < 10:
        return words + ["oh"] + number_words(m)
    return words + number_words(m)


# One token of text with numbers: money, time, ordinal, percent, decimal, integer.
_NUMERIC = re.compile(
    r"(?P<money>[$£€])(?P<amount>\d[\d,]*(?:\.\d+)?)"
    r"|(?P<hh>\d{1,2}):(?P<mm>\d{2})"
    r"|(?P<ord>\d+)(?:st|nd|rd|th)\b"
    r"|(?P<num>\d[\d,]*\d|\d)(?:\.(?P<frac>\d+))?(?P<pct>\s?%)?"
    r"|\.(?P<bare_frac>\d+)"
)


def _expand_numbers(text: str) -> str:
    def repl(m: re.Match) -> str:
        if m.group("money"):
            words = _money_words(m.group("money"), m.group("amount"))
        elif m.group("hh"):
            words = _time_words(m.group("hh"), m.group("mm"))
        elif m.group("ord"):
            words = ordinal_words(int(m.group("ord")))
        elif m.group("num") is not None:
            digits = m.group("num")
            comma = "," in digits
            digits = digits.replace(",", "")
            if m.group("frac"):
                words = _decimal_words(digits, m.group("frac"))
            else:
                words = _integer_words(digits, allow_year=not comma and not m.group("pct"))
            if m.group("pct"):
                words = words + ["percent"]
        else:
            words = ["point"] + _digits_words(m.group("bare_frac"))
        return " " + " ".join(words) + " "

    return _NUMERIC.sub(repl, text)


_ABBREV_RE = re.compile(
    r"(?<![\w.])(" + "|".join(sorted((re.escape(k) for k in _ABBREVIATIONS), key=len,
                                      reverse=True)) + r")\.", re.IGNORECASE)
_BARE_RE = re.compile(r"\b(" + "|".join(sorted(_BARE_ABBREVIATIONS)) + r")\b", re.IGNORECASE)


def _expand_abbreviations(text: str) -> str:
    # "No. 5" is "number five", but a sentence-final "no." is just "no".
    text = re.sub(r"\b[Nn]o\.\s*(?=\d)", " number ", text)
    text = _ABBREV_RE.sub(lambda m: " " + _ABBREVIATIONS[m.group(1).lower()] + " ", text)
    return _BARE_RE.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()], text)


def _is_latin_letter(ch: str) -> bool:
    if ch.isascii():
        return ch.isalpha()
    if not ch.isalpha():
        return False
    try:
        return unicodedata.name(ch).startswith("LATIN")
    except ValueError:
        return False


def _fold_latin(text: str) -> str:
    """Accented Latin letters -> ASCII ('café' -> 'cafe'); other scripts are kept for now
    and dropped later, so that 'naïve' stays one word."""
    out = []
    for ch in text:
        if ch.isascii() or not _is_latin_letter(ch):
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(base if base else {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe",
                                      "ð": "th", "þ": "th", "ł": "l"}.get(ch.lower(), ""))
    return "".join(out)


def normalize(text: str) -> list[str]:
    """Free text -> lower-case words to align.

    Keeps apostrophes inside words ("don't", "o'clock"), splits hyphenated words, speaks
    numbers/years/money/times/ordinals/percentages as words, expands common abbreviations,
    folds accented Latin letters to ASCII and drops other scripts and emoji.
    Returns [] when nothing speakable remains.
    """
    # Curly quotes and primes are apostrophes when inside a word.
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")
    text = text.replace("`", "'")
    text = _fold_latin(text)
    text = _expand_abbreviations(text)
    text = _expand_numbers(text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    words: list[str] = []
    # Anything that is not an ASCII letter or apostrophe separates words; this splits
    # hyphens and drops punctuation, other scripts and emoji in one go.
    for token in re.split(r"[^A-Za-z']+", text):
        token = token.strip("'").lower()
        token = re.sub("'+", "'", token)
        if token and any(c.isalpha() for c in token):
            words.append(token)
    return words
