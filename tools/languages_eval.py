"""The per-language table of `animate eval --languages`: espeak-ng speech with exact phone times.

For each language, a few sentences are spoken by espeak-ng's voice for it with another
speaker variant, pitch and rate than its default (the "recording"); its phone times are exact
(phonemes.espeak: the events, stops at their closure). Two paths animate it:

- say: `animate say --language` itself, curves from the exact phones (no alignment step);
- dtw: the recording aligned against espeak's default rendering of the same text by dynamic
  time warping (phonemes.dtw_align), the path for a recording of that text by anyone else;
- neural: the audio-only model (engine.neural, trained on English), when torch and its
  weights are installed: how language-agnostic it is.

Per language: phone-start error of the dtw path (mean |error| and % within 20 ms, phones
paired by label), p/b/m closure (each bilabial interval has a closed frame: the engine's
is_lip_closed) and lip rounding on rounded vowels (each vowel whose IPA is rounded, 'y ø o u
ɔ œ ...', reaches mouthPucker + mouthFunnel >= tools.evaluate.ROUNDING_MIN, the English
table's check), both on the exact (true) phone times. Targets: mean <= 30 ms, closure 100 %.
Regenerate docs/languages.md with `animate eval --languages all -o docs/languages.md`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tools.evaluate import (
    boundary_errors,
    interval_check_rate,
    rounding_check,
    summarize,
)
from voxface.engine.coarticulation import curves_from_alignment, is_lip_closed
from voxface.engine.neural.infer import neural_ready
from voxface.phonemes.dtw_align import align_dtw
from voxface.phonemes.ipa import to_arpabet
from voxface.phonemes.languages import synthesize_language

SENTENCES: dict[str, tuple[str, ...]] = {
    "es": ("Pablo bebe un poco de agua en el bosque.",
           "Mi madre compró ocho bombones para el abuelo.",
           "El veloz murciélago hindú comía feliz cardillo y kiwi.",
           "Tengo cuarenta y dos años y vivo en Bogotá desde 1998."),
    "de": ("Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
           "Meine Mutter baut im Mai einen blauen Brunnen.",
           "Über den Bergen wohnen bunte Vögel.",
           "Am 3. Oktober kommen 25 Personen zum Mittagessen."),
    "fr": ("Portez ce vieux whisky au juge blond qui fume.",
           "Mon ami Paul boit du bon vin blanc.",
           "Les pommes de Bretagne sont mûres au mois de juin.",
           "Nous partons à huit heures pour Bordeaux."),
    "it": ("Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja!",
           "Mio padre porta il pane buono al mercato.",
           "Il bambino mangia molte mele rosse.",
           "Una volta al mese andiamo a Bologna."),
    "pt": ("Meu pai bebe muito café pela manhã.",
           "O pombo voou sobre o mar de Lisboa.",
           "Luís argüia à Júlia que brações, fé, chá, óxido, pôr, zângão eram palavras.",
           "A minha mãe comprou bolos para o almoço."),
    "ru": ("Съешь же ещё этих мягких французских булок да выпей чаю.",
           "Мама мыла раму, а папа пил молоко.",
           "Большой белый пароход плывёт по морю.",
           "В пятницу мы поедем в Москву на поезде."),
    "zh": ("我能吞下玻璃而不伤身体。",
           "爸爸妈妈买了很多苹果。",
           "北京的秋天非常美。",
           "我们明天不去公园。"),
    "hi": ("मेरे पापा बाज़ार से पपीता लाए।",
           "बच्चे बगीचे में बॉल से खेल रहे हैं।",
           "मुंबई एक बहुत बड़ा शहर है।",
           "हम कल सुबह पुस्तकालय जाएंगे।"),
}

# (variant, pitch, rate wpm) of the "recording" per sentence: other speakers than the
# reference (espeak's default voice, pitch 50, 175 wpm).
CONDITIONS = (("f3", 65, 150), ("m3", 40, 195), ("f2", 60, 165), ("m1", 45, 185))
PAD_S = 0.3
BILABIAL = frozenset({"P", "B", "M"})


def _rounded_vowels(syn) -> list:
    """The phones of `syn` whose IPA is a rounded vowel (phonemes.ipa features)."""
    out = []
    for p, ipa in zip(syn.phones, syn.ipa or ()):
        f = to_arpabet(ipa).features
        if f is not None and f.vowel and f.rounding >= 0.5:
            out.append(p)
    return out


def _rate(pairs: list[tuple[int, int]]) -> tuple[float, int]:
    ok, n = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return (100.0 * ok / n if n else float("nan")), n


def evaluate_language(language: str, sentences: tuple[str, ...], fps: float = 60.0
                      ) -> dict[str, Any]:
    """One language's numbers (see the module docstring)."""
    neural = neural_ready() is None
    if neural:
        from voxface.engine.neural.infer import curves_from_audio  # torch: only when used
    errors: list[float] = []
    paths = ("say", "dtw") + (("neural",) if neural else ())
    closure: dict[str, list] = {p: [] for p in paths}
    rounding: dict[str, list] = {p: [] for p in paths}
    n_phones = 0
    notes: list[str] = []
    for k, text in enumerate(sentences):
        variant, pitch, rate = CONDITIONS[k % len(CONDITIONS)]
        rec = synthesize_language(text, language, variant=variant, pitch=pitch, rate_wpm=rate,
                                  pad_s=PAD_S)
        notes += [n for n in rec.notes if n not in notes]
        n_phones += len(rec.phones)
        dtw = align_dtw(rec.audio, text, language)
        errors += [e for _, e in boundary_errors(rec.phones, dtw.phones)]
        round_truth = _rounded_vowels(rec)
        for path, alignment in (("say", rec.alignment()), ("dtw", dtw), ("neural", None)):
            if path == "neural" and not neural:
                continue
            values = (curves_from_audio(rec.audio, fps=fps).values if alignment is None
                      else curves_from_alignment(alignment, rec.audio, fps=fps).values)
            closure[path].append(interval_check_rate(rec.phones, values, fps, BILABIAL,
                                                     is_lip_closed))
            labels = frozenset(p.label.rstrip("012") for p in round_truth)
            rounding[path].append(interval_check_rate(round_truth, values, fps, labels,
                                                      rounding_check))
    s = summarize(errors)
    return {"language": language, "sentences": len(sentences), "phones": n_phones,
            "dtw": s, "closure": {p: _rate(v) for p, v in closure.items()},
            "rounding": {p: _rate(v) for p, v in rounding.items()}, "notes": notes}


def evaluate_languages(languages: list[str] | None = None,
                       progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every language's numbers, in order (default: all of SENTENCES)."""
    out = []
    for lang in languages or list(SENTENCES):
        if progress:
            progress(f"language {lang}")
        out.append(evaluate_language(lang, SENTENCES[lang]))
    return out


def real_speech_dtw(folder=None) -> dict[str, Any] | None:
    """The DTW aligner on hand-labelled real speech (default: the shared TIMIT sample, English,
    the only real speech with phone labels there): tools.realspeech's phone-start summary,
    or None when the folder is absent. Reads ../shared only when called."""
    from pathlib import Path

    from tools import realspeech
    from voxface.core.audio import load_audio

    path = Path(folder) if folder else realspeech.TIMIT_DIR
    if not path.is_dir():
        return None
    errors: list[float] = []
    utts = realspeech.load_corpus(path)
    for u in utts:
        al = align_dtw(load_audio(u.wav), u.transcript, "en-us")
        errors += [e for _, e in realspeech.start_errors(u.phones, al.phones)]
    out = realspeech.summarize(errors)
    out["utterances"] = len(utts)
    return out


def table_markdown(rows: list[dict[str, Any]]) -> str:
    """The per-language table as Markdown."""
    paths = [p for p in ("say", "dtw", "neural") if rows and p in rows[0]["closure"]]
    lines = ["| language | phones | dtw phone-start mean | dtw within 20 ms | "
             + " | ".join(f"p/b/m closure ({p})" for p in paths) + " | "
             + " | ".join(f"rounding ({p})" for p in paths) + " |",
             "|---|---|---|---|" + "---|" * (2 * len(paths))]

    def pct(v):
        return "n/a" if v[1] == 0 else f"{v[0]:.0f} % of {v[1]}"

    for r in rows:
        d = r["dtw"]
        lines.append(f"| {r['language']} | {r['phones']} | {d.get('mean_ms', float('nan')):.1f} ms"
                     f" | {d.get('within_20ms', float('nan')):.0f} % | "
                     + " | ".join(pct(r["closure"][p]) for p in paths) + " | "
                     + " | ".join(pct(r["rounding"][p]) for p in paths) + " |")
    means = [r["dtw"].get("mean_ms", np.nan) for r in rows]
    lines += ["", f"Targets: dtw mean <= 30 ms in every language (worst: "
                  f"{np.nanmax(means):.1f} ms), closure 100 %."]
    return "\n".join(lines) + "\n"
