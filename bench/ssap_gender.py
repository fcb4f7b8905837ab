"""Which gender model does the voice service embed? voice2gender versus a classifier on Resemblyzer
speaker embeddings, on the same voices.

Usage: .venv/bin/python bench/ssap_gender.py

- voice2gender: XGBoost on 20 pitch and spectral features (its wheel's model, trained on the Kaggle
  Voice Gender set), as `services/voice/profile/gender.py` runs it.
- embedding + logistic regression: Resemblyzer embeddings (the voice service's speaker model) of
  espeak-ng's *named* variants (Andy, Annie, ... with the gender their variant file declares; disjoint
  from the `+m*`/`+f*` test variants), 2 sentences x 7 languages. A second version also trains on the
  real clips below, each scored by a model that never saw its speaker (leave one speaker out).

Test voices: tests/known_voices.py (Piper joe, Kokoro jf_*/jm_*, espeak +m*/+f* in 7 languages) and
the real clips of ../shared/data whose speaker's gender is documented (REAL_CLIPS, with sources).
Prints accuracy per group and model, and the time per call.
"""

import os
import re
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import espeakng_loader
from sklearn.linear_model import LogisticRegression

from services.common.audio import decode_audio
from services.voice.embedding.loader import load_encoder
from services.voice.profile.gender import Voice2Gender
from services.voice.settings import VoiceSettings
from services.voice.speech import speech_only
from tests.known_voices import ESPEAK_VOICES, espeak_wav, known_voices
from tests.text import SENTENCES

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
# The Debian package's variants when it is installed (the engine then runs that program), else the wheel's.
DEBIAN_VARIANT_DIR = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")
ESPEAK_VARIANT_DIR = (
    DEBIAN_VARIANT_DIR if DEBIAN_VARIANT_DIR.is_dir() else Path(espeakng_loader.get_data_path()) / "voices" / "!v"
)
TRAIN_SENTENCES = {
    **SENTENCES,
    "en": "Please call Stella and ask her to bring these things with her from the store.",
}

# clip -> (speaker, gender, where the gender is documented). LibriSpeech: the `sex=` of MANIFEST.tsv
# (test-other) and LibriSpeech's SPEAKERS.TXT (1995: F). Clips whose speaker's gender is not documented
# (speechbrain spk1/spk2, AISHELL S0724, the ja/ko/ru/fr samples) are left out rather than guessed.
REAL_CLIPS = {
    "asr/en_LJ050-0131.wav": ("LJ", "female", "LJSpeech: one female reader"),
    "asr/en_jfk.flac": ("JFK", "male", "John F. Kennedy, 1961 inaugural address"),
    "asr/en_librispeech_1995-1837-0001.wav": ("1995", "female", "SPEAKERS.TXT"),
    **{
        f"speaker/libri_testother_{speaker}_{speaker}-{chapter}-000{i}.flac": (speaker, gender, "MANIFEST.tsv sex=")
        for speaker, chapter, gender in (
            ("1688", "142285", "male"),
            ("1998", "15444", "female"),
            ("2033", "164914", "male"),
            ("2414", "128291", "male"),
            ("2609", "156975", "male"),
        )
        for i in range(3)
    },
}


def named_variants() -> dict[str, str]:
    """espeak-ng variants other than m1..m8 / f1..f5 whose file declares a gender."""
    variants = {}
    for path in sorted(ESPEAK_VARIANT_DIR.iterdir()):
        if re.fullmatch(r"[mf]\d", path.name):
            continue
        found = re.search(r"^\s*gender\s+(male|female)", path.read_text(errors="replace"), re.M)
        if found:
            variants[path.name] = found.group(1)
    return variants


def speech(wav: bytes) -> np.ndarray:
    return speech_only(decode_audio(wav, max_duration_s=120))


def synthetic_training_set(encoder) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the named espeak-ng variants in every language, two sentences each; y = female."""
    variants = named_variants()
    print(f"training set: {len(variants)} named espeak variants x {len(ESPEAK_VOICES)} languages x 2 sentences")
    train_x, train_y = [], []
    for language, base in ESPEAK_VOICES.items():
        for variant, gender in variants.items():
            for text in {SENTENCES[language], TRAIN_SENTENCES[language]}:
                audio = speech(espeak_wav(f"{base}+{variant}", text))
                if audio.size:
                    train_x.append(encoder.embed(audio))
                    train_y.append(gender == "female")
    return np.array(train_x), np.array(train_y)


def with_real_probabilities(tests: list, embeddings: dict, train_x: np.ndarray, train_y: np.ndarray) -> dict:
    """p(female) per test with the real clips in training: synthetic tests are scored by a model trained on
    every real clip; each real clip by a model that never saw its speaker (leave one speaker out)."""
    real = [i for i, test in enumerate(tests) if test[0] == "real"]

    def trained_with(indices: list[int]) -> LogisticRegression:
        x = np.vstack([train_x, *[embeddings[i][np.newaxis] for i in indices]])
        y = np.concatenate([train_y, [tests[i][2] == "female" for i in indices]])
        return LogisticRegression(C=1.0, max_iter=2000).fit(x, y)

    def female(model: LogisticRegression, index: int) -> float:
        return model.predict_proba(embeddings[index][np.newaxis])[0, 1]

    with_real = trained_with(real)
    lr_female = {i: female(with_real, i) for i, test in enumerate(tests) if test[0] != "real"}
    for speaker in {tests[i][1] for i in real}:
        model = trained_with([i for i in real if tests[i][1] != speaker])
        for i in real:
            if tests[i][1] == speaker:
                lr_female[i] = female(model, i)
    return lr_female


def print_accuracy(predictions: dict, tests: list) -> None:
    """Right per voice family and overall for each model, and the voices it got wrong."""
    groups = ["piper", "kokoro", "espeak", "real"]
    header = f"{'model':<32}" + "".join(f"{g:>14}" for g in groups) + f"{'all':>14}"
    print(header)
    for name, predicted in predictions.items():
        row = f"{name:<32}"
        for group in [*groups, None]:
            indices = [i for i, t in enumerate(tests) if group in (None, t[0])]
            right = sum(predicted[i] == tests[i][2] for i in indices)
            row += f"{f'{right}/{len(indices)} {right / len(indices):.0%}':>14}"
        print(row)
        misses = [f"{tests[i][1]}" for i in sorted(predicted) if predicted[i] != tests[i][2]]
        print(f"  misses: {', '.join(misses) or 'none'}")


def main() -> None:
    encoder = load_encoder(VoiceSettings())
    voice2gender = Voice2Gender()
    train_x, train_y = synthetic_training_set(encoder)
    synthetic_only = LogisticRegression(C=1.0, max_iter=2000).fit(train_x, train_y)

    tests = [(v.family, v.voice, v.gender, speech(v.wav)) for v in known_voices()]
    for clip, (speaker, gender, _) in REAL_CLIPS.items():
        tests.append(("real", speaker, gender, speech((DATA / clip).read_bytes())))

    embeddings, v2g_female = {}, {}
    timings = defaultdict(list)
    predictions = defaultdict(dict)  # model -> test index -> predicted gender
    for index, (_, _, _, audio) in enumerate(tests):
        start = time.perf_counter()
        female = voice2gender.classify(audio)["female"]
        v2g_female[index] = female
        timings["voice2gender"].append(time.perf_counter() - start)
        predictions["voice2gender"][index] = "female" if female >= 0.5 else "male"
        start = time.perf_counter()
        embeddings[index] = encoder.embed(audio)
        female = synthetic_only.predict_proba(embeddings[index][np.newaxis])[0, 1]
        timings["embedding + LR"].append(time.perf_counter() - start)
        predictions["embedding + LR (synthetic)"][index] = "female" if female >= 0.5 else "male"

    lr_female = with_real_probabilities(tests, embeddings, train_x, train_y)
    for i, p in lr_female.items():
        predictions["embedding + LR (+ real, LOSO)"][i] = "female" if p >= 0.5 else "male"
        average = (p + v2g_female[i]) / 2
        predictions["mean of voice2gender and LR (+ real)"][i] = "female" if average >= 0.5 else "male"

    print_accuracy(predictions, tests)
    for i, test in enumerate(tests):
        if test[0] == "real":
            print(
                f"  {test[1]:>5} {test[2]:<6} p(female) voice2gender {v2g_female[i]:.2f}  LR(+real) {lr_female[i]:.2f}"
            )
    for name, values in timings.items():
        print(f"{name:<32} per call p50 {np.median(values) * 1000:.1f} ms (voiced audio, after VAD)")
    ratio = np.median(timings["embedding + LR"]) / np.median(timings["voice2gender"])
    print(f"time ratio embedding+LR / voice2gender: {ratio:.2f}")


if __name__ == "__main__":
    main()
