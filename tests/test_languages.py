"""Any language espeak-ng speaks: the IPA feature mapping, --language, and IPA in the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxface.cli import main
from voxface.core.errors import InputError
from voxface.engine.poses import split_stress
from voxface.phonemes import espeak
from voxface.phonemes.ipa import IPA_FEATURES, AFFRICATES, to_arpabet

needs_espeak = pytest.mark.skipif(not espeak.available(),
                                  reason="libespeak-ng not installed (apt-get install libespeak-ng1)")

SENTENCES = {
    "es": "El veloz murciélago hindú comía feliz cardillo y kiwi. Tengo 42 años.",
    "de": "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "fr": "Portez ce vieux whisky au juge blond qui fume. Un bon vin blanc.",
    "it": "Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja!",
    "pt": "Luís argüia à Júlia que brações, fé, chá, óxido, pôr, zângão eram palavras.",
    "pt-br": "Luís argüia à Júlia que brações, fé, chá, óxido, pôr, zângão eram palavras.",
    "ru": "Съешь же ещё этих мягких французских булок да выпей чаю.",
    "zh": "我能吞下玻璃而不伤身体。你好，世界！",
    "hi": "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले।",
    "ja": "いろはにほへと ちりぬるを わかよたれそ つねならむ。",
    "ar": "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
    "ko": "다람쥐 헌 쳇바퀴에 타고파", "pl": "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "cs": "Příliš žluťoučký kůň úpěl ďábelské ódy.", "vi": "Tiếng Việt có dấu. Xin chào.",
}


def test_every_table_symbol_maps_to_a_pose_phone() -> None:
    for sym in list(IPA_FEATURES) + list(AFFRICATES):
        m = to_arpabet(sym)
        assert m.warning is None, sym
        split_stress(m.arpabet)  # a key of the pose tables (raises otherwise)


@pytest.mark.parametrize("label, phone", [
    ("p", "P"), ("bʰ", "B"), ("mʲ", "M"), ("β", "B"),        # lips closed
    ("y", "UW1"), ("ø", "OW1"), ("œ̃", "AO1"), ("ɔ̃", "AO1"),  # rounded vowels stay rounded
    ("i", "IY1"), ("ə-", "AH0"), ("aɪ", "AY1"), ("aʊ", "AW1"), ("ər", "ER0"),
    ("tʃʲ", "CH"), ("ts", "CH"), ("ss", "S"), ("kh", "K"), ("ʔ", "HH"), ("ɯᵝ", "UW1"),
])
def test_features_pick_the_face_relevant_phone(label: str, phone: str) -> None:
    assert to_arpabet(label).arpabet == phone


def test_unknown_symbols_warn_and_never_raise() -> None:
    m = to_arpabet("☃")
    assert m.arpabet == "AH0" and m.warning
    m = to_arpabet("x☃")
    assert m.arpabet == "K" and "☃" in m.warning
    assert to_arpabet("(en)").arpabet == "" and to_arpabet("").arpabet == ""


@needs_espeak
@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_languages_give_exact_mapped_phones(language: str) -> None:
    from voxface.phonemes.languages import synthesize_language

    syn = synthesize_language(SENTENCES[language], language)
    assert syn.language == language
    assert syn.ipa is not None and len(syn.ipa) == len(syn.phones) > 5
    assert not syn.notes, syn.notes  # every IPA symbol espeak emitted is in the table
    for p in syn.phones:
        split_stress(p.label)
    starts = [p.start for p in syn.phones]
    assert starts == sorted(starts)
    assert all(p.end > p.start for p in syn.phones)


@needs_espeak
def test_english_code_keeps_the_english_path() -> None:
    from voxface.phonemes.languages import synthesize_language

    a = synthesize_language("Maybe we could move five big boxes.", "en-us")
    b = espeak.synthesize("Maybe we could move five big boxes.", voice="en-us")
    assert a.ipa is None and [p.label for p in a.phones] == [p.label for p in b.phones]


@needs_espeak
def test_unsupported_language_lists_the_supported_ones() -> None:
    from voxface.phonemes.languages import resolve_language

    with pytest.raises(InputError, match="supported: .*de.*es.*"):
        resolve_language("xx-nope")
    assert resolve_language("FR").languages[0][1].startswith("fr")
    assert resolve_language("es_MX").identifier  # primary subtag fallback


@needs_espeak
def test_say_language_writes_ipa_json_and_textgrid(tmp_path: Path, capsys) -> None:
    rc = main(["say", "Hola, me llamo Pablo.", "--language", "es", "--format",
               "json,textgrid", "--outdir", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "say.json").read_text(encoding="utf-8"))
    assert doc["language"] == "es"
    assert [p["phone"] for p in doc["phones"]][:3] == ["OW1", "L", "AA1"]
    assert [p["ipa"] for p in doc["phones"]][:3] == ["o", "l", "a"]
    assert "P" in {p["phone"] for p in doc["phones"]}
    grid = (tmp_path / "say.TextGrid").read_text(encoding="utf-8")
    assert 'name = "ipa"' in grid and '"β"' in grid
    rc = main(["say", "Hola", "--language", "xx-nope", "--outdir", str(tmp_path)])
    assert rc == 2
    assert "supported:" in capsys.readouterr().err


@needs_espeak
def test_any_text_animates_in_any_language(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from voxface.phonemes.languages import synthesize_language
    from voxface.pipeline import animate

    import soundfile as sf

    @hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
    @hypothesis.given(st.sampled_from(sorted(SENTENCES)), st.text(min_size=1, max_size=40))
    def check(language: str, text: str) -> None:
        try:
            syn = synthesize_language(text, language)
        except InputError:  # empty or whitespace-only text: refused with a message
            assert not text.strip() or "\0" in text
            return
        assert syn.ipa is not None and len(syn.ipa) == len(syn.phones)
        wav = tmp_path / "t.wav"
        sf.write(str(wav), syn.samples, syn.sample_rate)
        anim = animate(wav, alignment=syn.alignment(), nonverbal=None)
        assert anim.curves.values.shape[1] == 52

    check()


@needs_espeak
def test_dtw_alignment_of_another_speaker_is_close() -> None:
    from tools.evaluate import boundary_errors, summarize
    from voxface.phonemes.dtw_align import align_dtw
    from voxface.phonemes.languages import synthesize_language

    text = "Mi madre compró ocho bombones para el abuelo."
    rec = synthesize_language(text, "es", variant="m3", pitch=40, rate_wpm=195, pad_s=0.3)
    al = align_dtw(rec.audio, text, "es")
    assert al.language == "es" and al.ipa is not None and len(al.ipa) == len(al.phones)
    assert [p.label for p in al.phones] == [p.label for p in rec.phones]
    s = summarize(e for _, e in boundary_errors(rec.phones, al.phones))
    assert s["n"] == len(rec.phones) and s["mean_ms"] <= 30.0
    # a wrong recording (silence) cannot match: its phones pile up, far from the truth
    silent = synthesize_language("Hola.", "es", pad_s=1.0).audio
    bad = align_dtw(silent, text, "es")
    assert bad.phones[-1].end <= silent.duration + 1e-9


@needs_espeak
def test_eval_language_table_meets_targets_for_spanish(tmp_path: Path) -> None:
    from tools import evaluate

    out = tmp_path / "lang.md"
    assert evaluate.main(["--languages", "es,de", "-o", str(out), "--real-speech",
                          "none"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| es |" in text and "| de |" in text and "100 % of" in text
    assert evaluate.main(["--languages", "xx", "-o", str(out)]) == 2
    from tools.languages_eval import evaluate_language, SENTENCES

    row = evaluate_language("es", SENTENCES["es"][:2])
    assert row["closure"]["say"][0] == 100.0 and row["closure"]["dtw"][0] == 100.0
    assert row["dtw"]["mean_ms"] <= 30.0


@needs_espeak
def test_language_tags_switch_mid_text(tmp_path: Path, capsys) -> None:
    from voxface.phonemes.languages import split_language_tags

    clean, segs = split_language_tags("Hi [lang:es] hola [LANG=de] tschüss", None)
    assert [lang for lang, _ in segs] == [None, "es", "de"] and "lang" not in clean
    rc = main(["say", "[happy] Good morning. [lang:es] Buenos días. [lang:de] Guten Morgen.",
               "--format", "json,textgrid", "--outdir", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "say.json").read_text(encoding="utf-8"))
    assert [w["word"] for w in doc["words"]] == ["good", "morning", "buenos", "días",
                                                 "guten", "morgen"]
    phones = doc["phones"]
    assert "ipa" not in phones[0] and any(p.get("ipa") == "β" or p.get("ipa") == "b"
                                          for p in phones)
    starts = [p["start"] for p in phones]
    assert starts == sorted(starts)
    assert doc["emotions"][0]["emotion"] == "happy"
    rc = main(["say", "Hi [lang:qq] there", "--outdir", str(tmp_path)])
    assert rc == 2 and "language tag [lang:qq]" in capsys.readouterr().err


@needs_espeak
def test_animate_audio_with_language_aligns_by_dtw(tmp_path: Path) -> None:
    import soundfile as sf

    from voxface.phonemes.languages import synthesize_language

    text = "Mi madre compró ocho bombones para el abuelo."
    rec = synthesize_language(text, "es", variant="m3", pitch=40, rate_wpm=190, pad_s=0.3)
    wav = tmp_path / "es.wav"
    sf.write(str(wav), rec.samples, rec.sample_rate)
    rc = main([str(wav), "--text", text, "--language", "es", "--format", "json", "-o",
               str(tmp_path / "out")])
    assert rc == 0
    doc = json.loads((tmp_path / "out" / "es.json").read_text(encoding="utf-8"))
    assert doc["language"] == "es" and doc["phones"][0]["ipa"] == "m"
    # the leading 0.3 s of silence is found: the first phone starts near its true time
    assert abs(doc["phones"][0]["start"] - rec.phones[0].start) <= 0.03
    assert main([str(wav), "--text", text, "--language", "zz-nope", "-o",
                 str(tmp_path / "out")]) == 2


@needs_espeak
def test_every_voice_maps_every_phone_it_emits() -> None:
    """Numbers are verbalised in each voice's own language: a sample of its phonemes, ASCII
    mnemonics included where its table has no IPA name ('tS', 'N', 'y:')."""
    from voxface.phonemes.languages import is_english

    text = "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 30 40 50 60 70 80 90 100 1000."
    seen = 0
    for v in espeak.voices():
        if is_english(v):
            continue
        syn = espeak.synthesize(text, voice=v.identifier, ipa=True)
        assert not syn.notes, (v.identifier, syn.notes)
        seen += len(syn.phones)
    assert seen > 1000
    for label, phone in (("tS", "CH"), ("N", "NG"), ("y:", "UW1"), ("Φ", "P"), ("t`", "T")):
        assert to_arpabet(label).arpabet == phone
