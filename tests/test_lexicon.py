"""CMUdict from the pocketsphinx wheel, and letter-to-sound rules for everything else."""


import pytest

from voxface.phonemes.arpabet import (
    PHONE_CLASSES,
    PHONES,
    SILENCE,
    is_vowel,
    phone_class,
    strip_stress,
)
from voxface.phonemes.lexicon import Lexicon, add_stress, default_lexicon, spell


def test_arpabet_tables():
    assert len(PHONES) == 39
    assert strip_stress("AH0") == "AH" and strip_stress("EY1") == "EY"
    assert strip_stress("K") == "K" and strip_stress(SILENCE) == SILENCE
    assert is_vowel("AA1") and is_vowel("ER") and not is_vowel("R")
    assert phone_class("CH") == "affricate" and phone_class("sil") == "silence"
    members = [p for name, ps in PHONE_CLASSES.items() if name != "silence" for p in ps]
    assert sorted(members) == sorted(PHONES)  # every phone in exactly one class


def test_load_is_fast_and_complete():
    entries = Lexicon().entries  # a fresh object; the parse itself is cached per process
    assert len(entries) > 120_000
    lex = Lexicon("/dev/null")
    assert lex.entries == {}
    # One uncached parse of the shipped dictionary (its speed is for a benchmark, not a test).
    from voxface.phonemes import lexicon as module

    module._load.cache_clear()
    assert len(Lexicon().entries) > 100_000


def test_lookups():
    lex = default_lexicon()
    assert lex.pronounce("hello") == ["HH", "AH", "L", "OW"]
    assert lex.pronounce("HELLO") == ["HH", "AH", "L", "OW"]
    assert lex.pronunciations("the") == [["DH", "AH"], ["DH", "IY"]]  # 'the(2)' alternate
    assert lex.pronounce("don't") == ["D", "OW", "N", "T"]
    assert "o'clock" in lex
    assert all(p in PHONES for p in lex.pronounce("extraordinary"))


@pytest.mark.parametrize("word, phones", [
    ("thinking", ["TH", "IH", "NG", "K", "IH", "NG"]),
    ("shipping", ["SH", "IH", "P", "IH", "NG"]),
    ("phone", ["F", "OW", "N"]),
    ("make", ["M", "EY", "K"]),
    ("night", ["N", "AY", "T"]),
    ("station", ["S", "T", "EY", "SH", "AH", "N"]),
    ("cheese", ["CH", "IY", "Z"]),
    ("boat", ["B", "OW", "T"]),
    ("mouse", ["M", "AW", "S"]),
    ("check", ["CH", "EH", "K"]),
])
def test_letter_to_sound_rules(word, phones):
    assert Lexicon().guess(word) == phones


def test_oov_words_are_never_dropped():
    lex = default_lexicon()
    for word in ["zorblax", "grumpkinator", "yknow", "y'knowz", "xkcd", "brrr", "qwzx"]:
        assert word not in lex
        phones = lex.pronounce(word)
        assert phones, word
        assert all(p in PHONES for p in phones), (word, phones)
        assert any(is_vowel(p) for p in phones), (word, phones)


def test_acronyms_are_spelled():
    lex = default_lexicon()
    assert lex.guess("FBIX") == spell("fbix")
    assert lex.pronounce("nbc") == ["EH", "N", "B", "IY", "S", "IY"]  # no vowel letter


def test_add_stress():
    assert add_stress(["HH", "AH", "L", "OW"]) == ["HH", "AH0", "L", "OW1"]
    assert add_stress(["DH", "AH"]) == ["DH", "AH1"]
    assert add_stress(["S", "T"]) == ["S", "T"]


def test_variants_hold_cmudict_alternates_and_reductions():
    from voxface.phonemes.lexicon import default_lexicon, reductions

    lex = default_lexicon()
    your = lex.variants("your")
    assert your[0] == lex.pronounce("your")
    assert ["Y", "UH", "R"] in your and ["Y", "IH"] in your     # CMUdict alternate + weak
    assert lex.variants("don't")[-1] == ["D", "OW", "N"]          # t/d deletion
    assert ["W", "AO", "D", "ER"] in lex.variants("water")        # flapping
    assert reductions("axis", ["AE", "K", "S", "AH", "S"]) == []   # nothing to reduce
    assert all(len(set(map(tuple, lex.variants(w)))) == len(lex.variants(w))
               for w in ("the", "and", "a", "to"))


def test_sorted_lookup_equals_the_full_parse():
    """The shipped dictionary is looked up in place by binary search (no full parse): it must
    be sorted by word, and every look-up must give what the parsed dictionary gives."""
    from voxface.phonemes import lexicon as module

    path = str(module._dict_path())
    full = module._load(path)
    words = list(full)
    assert words == sorted(words)  # the binary search relies on it
    fast = module._SortedDict(path)
    sample = words[::97] + words[:50] + words[-50:] + ["o'clock", "the", "read", "live"]
    for w in sample:
        assert fast.get(w) == full[w], w
    for w in ["", "zzzzzz", "aaaaaa", "qwxv", "hello(2)", "é", "x y"]:
        assert fast.get(w) is None and w not in full, w
    lex = Lexicon()  # a fresh one: look-ups without parsing the dictionary
    assert lex.variants("the") and lex._entries is None
    assert lex.pronunciations("read") == [p.split() for p in full["read"]]
