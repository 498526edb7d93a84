"""Transcript normalisation: words an aligner can say, deterministically."""

import pytest

from voxface.phonemes.text import normalize, number_words, ordinal_words, year_words


@pytest.mark.parametrize("text, words", [
    ("Hello, World!", ["hello", "world"]),
    ("Don't worry, I'm here.", ["don't", "worry", "i'm", "here"]),
    ("It's seven o'clock.", ["it's", "seven", "o'clock"]),
    ("'quoted' words", ["quoted", "words"]),
    ("I\u2019m curly", ["i'm", "curly"]),
    ("in 1999", ["in", "nineteen", "ninety", "nine"]),
    ("in 2024", ["in", "twenty", "twenty", "four"]),
    ("in 2005", ["in", "two", "thousand", "five"]),
    ("1900", ["nineteen", "hundred"]),
    ("42", ["forty", "two"]),
    ("3.5", ["three", "point", "five"]),
    ("0.25", ["zero", "point", "two", "five"]),
    ("1,000,000", ["one", "million"]),
    ("2nd 3rd 21st 12th", ["second", "third", "twenty", "first", "twelfth"]),
    ("$5.99", ["five", "dollars", "ninety", "nine", "cents"]),
    ("$1", ["one", "dollar"]),
    ("€0.50", ["fifty", "cents"]),
    ("3:30", ["three", "thirty"]),
    ("10:05", ["ten", "oh", "five"]),
    ("50%", ["fifty", "percent"]),
    ("12.5 %", ["twelve", "point", "five", "percent"]),
    ("Mr. Smith and Dr. Jones", ["mister", "smith", "and", "doctor", "jones"]),
    ("Mrs. Brown of St. Louis", ["missus", "brown", "of", "saint", "louis"]),
    ("apples vs. pears etc.", ["apples", "versus", "pears", "et", "cetera"]),
    ("e.g. this", ["for", "example", "this"]),
    ("No. 5 said no.", ["number", "five", "said", "no"]),
    ("well-known state-of-the-art", ["well", "known", "state", "of", "the", "art"]),
    ("caf\u00e9 na\u00efve", ["cafe", "naive"]),
    ("hello \U0001F600 world", ["hello", "world"]),
    ("\u65e5\u672c\u8a9e \u0928\u092e\u0938\u094d\u0924\u0947", []),
    ("", []),
    ("...!?", []),
    ("Tom & Jerry", ["tom", "and", "jerry"]),
])
def test_normalize(text, words):
    assert normalize(text) == words


def test_normalize_is_deterministic_and_lower_case():
    text = "The 2nd of May, 1984: Mr. O'Brien paid $3.50 (50%)!"
    first = normalize(text)
    assert first == normalize(text)
    assert all(w == w.lower() and w for w in first)
    assert first == ["the", "second", "of", "may", "nineteen", "eighty", "four", "mister",
                     "o'brien", "paid", "three", "dollars", "fifty", "cents", "fifty",
                     "percent"]


def test_number_helpers():
    assert number_words(0) == ["zero"]
    assert number_words(115) == ["one", "hundred", "fifteen"]
    assert number_words(1005) == ["one", "thousand", "five"]
    assert number_words(2_000_019) == ["two", "million", "nineteen"]
    assert year_words(1905) == ["nineteen", "oh", "five"]
    assert ordinal_words(40) == ["fortieth"]
    assert ordinal_words(100) == ["one", "hundredth"]
