"""TTS: what cutting a long first sentence after a few words buys (time to the first audio) and costs
(a seam: round-trip WER of the cut audio against the same sentence said whole).

Usage: .venv/bin/python bench/tts_first_piece.py [--rounds 3] [--engines piper,espeak,kokoro]

In this process, on the raw engines: for each first sentence, the time to synthesize it whole (what
the listener waited for before the cut) and the time to synthesize the first piece the service now
says first (services/tts/text.py), medians over --rounds; then, --rounds times, the sentence said whole,
whole again, and cut (its pieces back to back as the service streams them), each transcribed by the
fleet's Whisper model (base) and scored against the sentence (WER; CER for Japanese). The engines
sample, so two draws of the whole sentence differ: that difference is the noise the cut's is read
against. The time ratio is the gain.
The service's own first frame through the gateway is bench/tts.py's figure.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import jiwer
import numpy as np
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.tts.engines.base import Voice
from services.tts.engines.loader import loaders
from services.tts.service import shorten_final_pause
from services.tts.settings import TtsSettings
from services.tts.text import ends_a_clause, sentences
from tests.text import normalize

warnings.filterwarnings("ignore")
ENGLISH = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Your package was delivered to the front desk this morning.",
    "I can book a table for four people at seven tonight.",
    "The meeting with the finance team moved to Thursday afternoon.",
    "Please check that the printer on the second floor has paper.",
    "Our support line is open every day from eight until six.",
    "The train to the airport leaves from platform nine in ten minutes.",
    "We sent the invoice to the address you gave us last week.",
    "Remember to bring your passport and the printed ticket to the gate.",
    "The new version of the app fixes the login problem on older phones.",
    "It will rain in the north tomorrow but the south stays dry.",
    "Your appointment with the dentist is confirmed for Monday at nine.",
    "Most customers choose the yearly plan because it costs less per month.",
    "The library closes early on public holidays and reopens the next morning.",
    "A technician will call you within two hours to arrange a visit.",
    "Turn left at the second traffic light and the hotel is on your right.",
    "My sister moved to Hanoi last year to study computer science.",
    "The battery lasts about twelve hours when the screen is dimmed.",
    "You can return any item within thirty days if it is unused.",
    "The concert starts at eight so we should leave home by seven.",
    "He forgot his umbrella at the office and walked home in the rain.",
    "Three new stores opened downtown during the first week of March.",
    "The password must contain at least one number and one capital letter.",
    "Our flight was delayed because of heavy fog over the mountains.",
]
CASES = {  # engine: (language, voice, first sentences)
    "piper": ("en", "en_US-joe-medium", ENGLISH),
    "espeak": ("en", "en-us", ENGLISH),
    "kokoro": (
        "ja",
        "jf_alpha",
        ["今日はとても良い天気なので公園まで散歩に行きましょう。", "ご注文の商品は明日の午前中に届く予定です。"],
    ),
}


def median_seconds(synthesize, text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        synthesize(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def transcript(whisper, audio: np.ndarray, rate: int, language: str) -> str:
    audio16k = soxr.resample(audio, rate, 16_000, quality="HQ").astype(np.float32)
    segments, _ = whisper.transcribe(audio16k, language=language, beam_size=5, vad_filter=False)
    return " ".join(segment.text for segment in segments)


def error_rate(language: str, reference: str, hypothesis: str) -> float:
    """WER for spaced languages, CER for Japanese."""
    if language == "ja":
        return jiwer.cer(reference.rstrip("。"), hypothesis.strip().rstrip("。"))
    return jiwer.wer(normalize(reference), normalize(hypothesis))


def said_cut(synthesize, pieces: list[str], rate: int) -> np.ndarray:
    """The pieces back to back as the service streams them (a clause's pause shortened)."""
    audios = [synthesize(piece) for piece in pieces]
    return np.concatenate(
        [shorten_final_pause(a, rate) if ends_a_clause(p) else a for a, p in zip(audios, pieces, strict=True)]
    )


def run_engine(name: str, whisper, rounds: int) -> dict[str, float]:
    language, voice_name, texts = CASES[name]
    engine = loaders(TtsSettings())[name]()
    voice = Voice(name, voice_name, language)

    def synthesize(text: str) -> np.ndarray:
        return engine.synthesize(text, voice)

    def error(text: str, audio: np.ndarray) -> float:
        return error_rate(language, text, transcript(whisper, audio, engine.sample_rate, language))

    whole_s, first_s, errors = [], [], {"whole": [], "whole again": [], "cut": []}
    for text in texts:
        pieces = sentences(text)
        whole_s.append(median_seconds(synthesize, text, rounds))
        first_s.append(median_seconds(synthesize, pieces[0], rounds))
        for _ in range(rounds):  # the engines sample (Piper's noise scale): each draw is heard anew
            errors["whole"].append(error(text, synthesize(text)))
            errors["whole again"].append(error(text, synthesize(text)))
            errors["cut"].append(error(text, said_cut(synthesize, pieces, engine.sample_rate)))
    return {
        "sentences": len(texts),
        "whole_ms": 1000 * statistics.median(whole_s),
        "whole_max_ms": 1000 * max(whole_s),
        "first_ms": 1000 * statistics.median(first_s),
        "first_max_ms": 1000 * max(first_s),
        **{f"{kind} error": statistics.mean(values) for kind, values in errors.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default=",".join(CASES))
    args = parser.parse_args()
    whisper = load_asr_model(AsrSettings())
    print(
        "| engine | lang | sentences | whole sentence p50 / max | first piece p50 / max | ratio (p50) "
        "| round-trip error: whole | whole, a second draw | cut |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.engines.split(","):
        r = run_engine(name, whisper, args.rounds)
        print(
            f"| {name} | {CASES[name][0]} | {r['sentences']} | {r['whole_ms']:.0f} / {r['whole_max_ms']:.0f} ms "
            f"| {r['first_ms']:.0f} / {r['first_max_ms']:.0f} ms | {r['first_ms'] / r['whole_ms']:.2f} "
            f"| {r['whole error']:.3f} | {r['whole again error']:.3f} | {r['cut error']:.3f} |"
        )


if __name__ == "__main__":
    main()
