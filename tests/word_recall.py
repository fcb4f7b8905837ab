"""Audio sets and the word-recall measure shared by tests/test_transcribe_words.py and
bench/asr_file.py: the shared clips, two-speaker mixes and mixed-language files."""

import unicodedata

import jiwer
import numpy as np

from tests.audio_files import read_mono, wav_bytes
from tests.conftest import DATA
from tests.text import normalize

RATE = 16_000
# Every shared clip with speech, except where the raw engine falls back to temperature sampling,
# so that its text is random from run to run: LibriSpeech speaker 2033 (Whisper base takes it for
# Latin or Arabic) and diarization/sample.wav (its first window loops at temperature 0). sample.wav
# is in a long mix below, measured by the words lost.
SAMPLED = {"diarization/sample.wav"}
CLIPS = sorted(
    str(path.relative_to(DATA))
    for folder in ("asr", "multilingual", "diarization")
    for path in (DATA / folder).iterdir()
    if path.suffix in (".wav", ".flac") and str(path.relative_to(DATA)) not in SAMPLED
) + [f"speaker/libri_testother_{s}-0000.flac" for s in ("1688_1688-142285", "1998_1998-15444", "2414_2414-128291")]
# Two speakers, pauses of 0.3-0.8 s, one of them 14 dB quieter in the second mix.
SAME_LANGUAGE_MIXES = {
    "two_speakers": (["asr/sb_spk1_snt1.wav", "speaker/libri_testother_1688_1688-142285-0000.flac"], 0.4, None),
    "quiet_second_speaker": (
        ["asr/en_LJ050-0131.wav", "asr/sb_spk2_snt2.wav", "asr/sb_spk1_snt3.wav"],
        0.3,
        [0, -14, 0],
    ),
    "president_and_reader": (["asr/en_jfk.flac", "speaker/libri_testother_2414_2414-128291-0001.flac"], 0.8, None),
}
# Language, then the clip: English next to Chinese, French, Korean, Japanese, 1 s apart.
LANGUAGE_MIXES = {
    "en_zh": [("en", "asr/sb_spk1_snt3.wav"), ("zh", "multilingual/zh_aishell_BAC009S0724W0121.wav")],
    "zh_en": [("zh", "multilingual/zh_aishell_BAC009S0724W0121.wav"), ("en", "asr/en_LJ050-0131.wav")],
    "en_fr": [
        ("en", "asr/en_librispeech_1995-1837-0001.wav"),
        ("fr", "multilingual/fr_stp_human_allume_les_lumieres_en_bleu.wav"),
    ],
    "ko_en": [("ko", "multilingual/ko_sensevoice_test.wav"), ("en", "asr/en_jfk.flac")],
}
# Longer than Whisper's 30 s window (the service's batched path): two real recordings back to
# back, and eleven readers with pauses of 0.3-3 s at levels 0 to -20 dB.
READERS = [
    "asr/en_LJ050-0131.wav",
    "asr/sb_spk1_snt1.wav",
    "speaker/libri_testother_1998_1998-15444-0000.flac",
    "asr/en_librispeech_1995-1837-0001.wav",
    "asr/sb_spk2_snt2.wav",
    "speaker/libri_testother_2414_2414-128291-0002.flac",
    "asr/en_jfk.flac",
    "asr/sb_spk1_snt3.wav",
    "speaker/libri_testother_2609_2609-156975-0002.flac",
    "asr/sb_spk2_snt3.wav",
    "speaker/libri_testother_1688_1688-142285-0001.flac",
]
LONG_MIXES = {
    "meeting_then_interview": (["diarization/ami_dev00.wav", "diarization/sample.wav"], 1.0, None),
    "readers_at_three_levels": (
        READERS,
        [0.3, 0.8, 1.5, 3.0] * 3,
        [0, -10, -20] * 4,
    ),
}
# Five languages over a minute, each language more than once: language runs across windows.
LONG_LANGUAGE_MIX = [
    ("en", "speaker/libri_testother_2414_2414-128291-0002.flac"),
    ("zh", "multilingual/zh_aishell_BAC009S0724W0121.wav"),
    ("en", "asr/en_LJ050-0131.wav"),
    ("ja", "multilingual/ja_reazon_test_ja_1.wav"),
    ("en", "asr/en_jfk.flac"),
    ("fr", "multilingual/fr_stp_human_allume_les_lumieres_en_bleu.wav"),
    ("ko", "multilingual/ko_sensevoice_test.wav"),
]


def tokens(text: str) -> str:
    """Words, with each CJK character a word of its own (those scripts have no spaces)."""
    out = []
    for word in normalize(text).split():
        wide = any(unicodedata.east_asian_width(c) in "WF" for c in word)
        out += list(word) if wide else [word]
    return " ".join(out)


def recall(reference: str, hypothesis: str) -> float:
    """The share of the reference's words found, in order, in the hypothesis."""
    reference, hypothesis = tokens(reference), tokens(hypothesis)
    if not hypothesis:
        return 0.0
    return jiwer.process_words(reference, hypothesis).hits / len(reference.split())


def kept(reference: str, hypothesis: str) -> float:
    """The share of the reference's words that are not lost: found, or heard as another word (a
    substitution is a recognition difference; beam search and sampling make many between runs)."""
    reference, hypothesis = tokens(reference), tokens(hypothesis)
    if not hypothesis:
        return 0.0
    return 1 - jiwer.process_words(reference, hypothesis).deletions / len(reference.split())


def load(name: str) -> np.ndarray:
    return read_mono((DATA / name).read_bytes())


def as_sent(audio: np.ndarray) -> np.ndarray:
    """The samples the server decodes from the 16-bit WAV it is sent (beam search is chaotic:
    the int16 rounding alone changes a few words of the raw engine's output)."""
    return read_mono(wav_bytes(audio))


def joined(names: list[str], gap_s: float | list[float], gains_db: list[float] | None = None) -> np.ndarray:
    """The clips one after another, `gap_s` apart (one gap, or one after each clip), each at its gain."""
    pieces = []
    for index, name in enumerate(names):
        gain = 10 ** ((gains_db[index] if gains_db else 0) / 20)
        gap = gap_s[index] if isinstance(gap_s, list) else gap_s
        pieces += [load(name) * gain, np.zeros(int(gap * RATE), np.float32)]
    return np.concatenate(pieces[:-1]).astype(np.float32)
