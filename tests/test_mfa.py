"""Montreal Forced Aligner wrapper: clear error without `mfa`, real alignment with it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from voxface.core.audio import from_array
from voxface.core.errors import InputError, MissingDependencyError
from voxface.phonemes.mfa import MISSING_MESSAGE, align_mfa


def test_missing_mfa_is_a_missing_dependency_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `mfa` anywhere
    audio = from_array(np.zeros(16_000, np.float32), 16_000)
    with pytest.raises(MissingDependencyError) as err:
        align_mfa(audio, ["hello"])
    assert str(err.value) == MISSING_MESSAGE
    assert isinstance(err.value, InputError)  # so the CLI exits 2 with the one-line message
    assert "conda install -c conda-forge montreal-forced-aligner" in str(err.value)


@pytest.mark.skipif(shutil.which("mfa") is None, reason="Montreal Forced Aligner not on PATH")
def test_mfa_aligns_espeak_speech() -> None:
    from voxface.phonemes.arpabet import PHONES, strip_stress
    from voxface.phonemes.espeak import synthesize

    syn = synthesize("Maybe we could move five big boxes before the party.", pad_s=0.3)
    a = align_mfa(syn.audio, syn.text.rstrip(".").lower().split())
    assert a.source == "mfa"
    assert [w.label for w in a.words] == ["maybe", "we", "could", "move", "five", "big",
                                          "boxes", "before", "the", "party"]
    assert all(strip_stress(p.label) in PHONES for p in a.phones)
    # MFA should land the first phone of the utterance near espeak's exact start.
    assert abs(a.phones[0].start - syn.phones[0].start) < 0.05
