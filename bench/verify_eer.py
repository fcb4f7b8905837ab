"""Speaker verification accuracy: EER of raw cosine versus AS-Norm, and the score distributions.

Usage: .venv/bin/python bench/verify_eer.py

Three scorers on the same LibriSpeech clips: the raw engine (Resemblyzer's own `preprocess_wav` +
cosine), the service's embedding (Silero VAD trim) with raw cosine, and the service's AS-Norm score
(shipped cohort, ASNORM_TOP_N). Two trial lists: `speaker/trials.tsv` (15 target, 10 impostor) and
every pair of the 15 clips (15 target, 90 impostor); and, harder, every pair of 3 s speech crops of
the clips (short test audio, where the scorers differ). Prints EER, FAR/FRR at the service threshold,
min/median/max per class, and embedding time per clip (raw engine vs service path).
"""

import csv
import itertools
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.voice.cohort import load_cohort, read_audio
from services.voice.embedding.loader import load_encoder
from services.voice.scoring import AsNorm
from services.voice.settings import VoiceSettings
from services.voice.speech import speech_only

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))


def eer(targets: np.ndarray, impostors: np.ndarray) -> float:
    """Equal error rate: the point where false accepts and false rejects are equally frequent."""
    thresholds = np.unique(np.concatenate([targets, impostors]))
    best = (2.0, 1.0)
    for threshold in thresholds:
        far = float(np.mean(impostors >= threshold))
        frr = float(np.mean(targets < threshold))
        best = min(best, (abs(far - frr), (far + frr) / 2))
    return best[1]


def describe(name: str, targets: np.ndarray, impostors: np.ndarray, threshold: float | None) -> None:
    line = f"  {name:<24} EER {eer(targets, impostors):6.1%}"
    line += f" | target min/med/max {targets.min():6.2f} {np.median(targets):6.2f} {targets.max():6.2f}"
    line += f" | impostor min/med/max {impostors.min():6.2f} {np.median(impostors):6.2f} {impostors.max():6.2f}"
    if threshold is not None:
        line += f" | at {threshold}: FAR {np.mean(impostors > threshold):.1%} FRR {np.mean(targets <= threshold):.1%}"
    print(line)


def main() -> None:
    from resemblyzer import VoiceEncoder, preprocess_wav

    settings = VoiceSettings()
    encoder = load_encoder(settings)
    asnorm = AsNorm(load_cohort(settings, encoder), settings.asnorm_top_n)
    raw_engine = VoiceEncoder("cpu", verbose=False)
    clips = sorted(str(p.relative_to(DATA)) for p in (DATA / "speaker").glob("*.flac"))
    audio = {c: read_audio(DATA / c) for c in clips}

    service_emb, raw_emb, service_s, raw_s = {}, {}, [], []
    for clip in clips:
        start = time.perf_counter()
        raw_emb[clip] = raw_engine.embed_utterance(preprocess_wav(audio[clip], source_sr=16000))
        raw_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        service_emb[clip] = encoder.embed(speech_only(audio[clip]))
        service_s.append(time.perf_counter() - start)

    crop = 3 * 16000
    for clip in clips:
        speech = speech_only(audio[clip])
        for i in range(speech.size // crop):
            name = f"{clip}#{i}"
            piece = speech[i * crop : (i + 1) * crop]
            raw_emb[name] = raw_engine.embed_utterance(preprocess_wav(piece, source_sr=16000))
            service_emb[name] = encoder.embed(piece)
    crops = [name for name in service_emb if "#" in name]

    with (DATA / "speaker" / "trials.tsv").open() as f:
        listed = [(t["enroll"], t["test"], t["label"] == "target") for t in csv.DictReader(f, delimiter="\t")]
    every_pair = [(a, b, a.split("_")[2] == b.split("_")[2]) for a, b in itertools.combinations(clips, 2)]

    print(f"cohort {asnorm.cohort.shape[0]} embeddings, top-N {asnorm.top_n}, threshold {settings.verify_threshold}")
    crop_pairs = [(a, b, a.split("_")[2] == b.split("_")[2]) for a, b in itertools.combinations(crops, 2)]
    trial_lists = {
        "speaker/trials.tsv": listed,
        "all pairs of the 15 clips": every_pair,
        f"all pairs of {len(crops)} 3 s crops": crop_pairs,
    }
    for title, trial_list in trial_lists.items():
        n_target = sum(t for *_, t in trial_list)
        print(f"{title}: {n_target} target, {len(trial_list) - n_target} impostor trials")
        scorers = {
            "raw engine cosine": lambda a, b: float(raw_emb[a] @ raw_emb[b]),
            "service cosine": lambda a, b: float(service_emb[a] @ service_emb[b]),
            "service AS-Norm": lambda a, b: asnorm.score(service_emb[a], service_emb[b])[0],
        }
        for name, scorer in scorers.items():
            scores = np.array([scorer(a, b) for a, b, _ in trial_list])
            is_target = np.array([t for *_, t in trial_list])
            threshold = settings.verify_threshold if "AS-Norm" in name else None
            describe(name, scores[is_target], scores[~is_target], threshold)
    seconds = sum(a.size for a in audio.values()) / 16000
    print(
        f"embedding time per clip (mean of {len(clips)}, {seconds / len(clips):.1f} s audio): "
        f"raw engine {np.mean(raw_s) * 1000:.0f} ms, service path {np.mean(service_s) * 1000:.0f} ms "
        f"(ratio {np.mean(service_s) / np.mean(raw_s):.2f})"
    )


if __name__ == "__main__":
    main()
