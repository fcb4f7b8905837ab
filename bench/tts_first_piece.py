"""TTS: what cutting a long first sentence after a few words buys (time to the first audio) and costs
(a seam: round-trip WER of the cut audio against the same sentence said whole).

Usage: .venv/bin/python bench/tts_first_piece.py [--draws 3] [--engines piper,espeak,kokoro]
       [--sets tuning,held-out]

In this process, on the raw engines: for each first sentence, the time to synthesize it whole (what
the listener waited for before the cut) and the time to synthesize the first piece the service now
says first (services/common/text_pieces.py), medians over --draws; then, --draws times, the sentence said whole,
whole again, and cut (its pieces as the service synthesizes and streams them, services/tts/service.py),
each transcribed by the fleet's Whisper model (base) and scored against the sentence (WER; CER for
Japanese). The engines sample, so two draws of the whole sentence differ: "whole again - whole" over the
same sentences is the noise that "cut - whole" is read against (paired per sentence, mean ± 2 standard
errors). Seam errors: words lost, changed or added at the head's last word or the rest's first.
The tuning sentences are those the cutting rules were written on; the held-out ones were written
after and never used to choose between ways of cutting (the first look at where the errors were saw
both). The service's own first frame is bench/tts.py's figure.
"""

import argparse
import re
import statistics
import sys
import warnings
from pathlib import Path

import jiwer
import numpy as np
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.tts import median_seconds
from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.common.text_pieces import sentences
from services.tts.engines.base import Voice
from services.tts.engines.loader import loaders
from services.tts.service import synthesize_piece
from services.tts.settings import OUTPUT_RATE, TtsSettings
from tests.text import normalize

warnings.filterwarnings("ignore")
TUNING = [
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
HELD_OUT = [
    "I found three flights that leave before noon on Saturday.",
    "The doctor can see you on Tuesday morning if that works for you.",
    "Your refund should appear on your card within a few business days.",
    "We have reserved a quiet room on the top floor for your stay.",
    "The weather today will be sunny with a light breeze from the west.",
    "I have added milk and eggs to your shopping list for tomorrow.",
    "The store on Main Street is open late on Fridays and Saturdays.",
    "Your current balance is lower than it was at the end of last month.",
    "She asked whether the blue jacket comes in a larger size.",
    "The bus stops right outside the museum every twenty minutes.",
    "I could not find any restaurants nearby that are still open.",
    "The kitchen staff will prepare a vegetarian meal for your guest.",
    "His presentation covered the results of the survey in great detail.",
    "The package is too heavy to send by regular mail.",
    "Our team will review your application and reply by the end of the week.",
    "The bridge across the river is closed for repairs until spring.",
    "You left your keys on the table next to the front door.",
    "The children played in the garden until it started to get dark.",
    "Most of the tickets for the evening show have already been sold.",
    "I will remind you about the call one hour before it starts.",
    "The coffee machine in the break room needs a new filter.",
    "A storm is expected to reach the coast late on Sunday night.",
    "Please keep your seat belt fastened while the sign is lit.",
    "The museum offers free guided tours on the first Sunday of each month.",
    "This recipe takes about forty minutes and serves four people.",
    "The new manager introduced herself to everyone at the morning meeting.",
    "We could not confirm your booking because the card was declined.",
    "The road to the village is narrow and winds through the hills.",
    "Your order contains two shirts and a pair of running shoes.",
    "The hospital is about fifteen minutes away by car from here.",
    "I would suggest leaving early to avoid the traffic on the highway.",
    "The students finished their project a week before the deadline.",
    "My neighbor grows tomatoes and peppers in his small backyard.",
    "The server will restart automatically after the update is installed.",
    "They walked along the beach and watched the sun go down.",
    "The bakery sells fresh bread every morning until it runs out.",
    "Your subscription will renew automatically on the first of next month.",
    "The old castle on the hill attracts thousands of visitors each summer.",
    "I can transfer you to someone in the billing department right away.",
    "The cat jumped onto the windowsill and stared at the birds outside.",
    "Several roads in the city center will be closed for the marathon.",
    "The lecture on ancient history starts in the main hall at noon.",
    "You will receive a confirmation email as soon as the payment clears.",
    "The farmers market moves indoors during the cold winter months.",
    "Her grandmother taught her how to bake bread without a recipe.",
    "The printer in my office keeps jamming whenever I print double sided.",
    "We recommend updating your password every few months for safety.",
    "The ferry to the island runs twice a day during the summer season.",
]
JAPANESE = ["今日はとても良い天気なので公園まで散歩に行きましょう。", "ご注文の商品は明日の午前中に届く予定です。"]
CASES = {  # engine: (language, voice, {set: first sentences})
    "piper": ("en", "en_US-joe-medium", {"tuning": TUNING, "held-out": HELD_OUT}),
    "espeak": ("en", "en-us", {"tuning": TUNING, "held-out": HELD_OUT}),
    "kokoro": ("ja", "jf_alpha", {"tuning": JAPANESE}),
}
# fmt: off
ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# fmt: on


def spoken(text: str) -> str:
    """Whisper writes numbers in digits ("at 7"): spelled out as the sentences have them (up to 99)."""

    def words(match: re.Match) -> str:
        n = int(match.group())
        if n < 20:
            return ONES[n]
        return TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + ONES[n % 10])

    return re.sub(r"\b\d{1,2}\b", words, text)


def transcript(whisper, audio: np.ndarray, rate: int, language: str) -> str:
    audio16k = soxr.resample(audio, rate, 16_000, quality="HQ").astype(np.float32)
    segments, _ = whisper.transcribe(audio16k, language=language, beam_size=5, vad_filter=False)
    return " ".join(segment.text for segment in segments)


def errors(language: str, reference: str, hypothesis: str, head_words: int) -> tuple[float, int]:
    """(WER, or CER for Japanese; the errors at the seam: at word head_words - 1 or head_words, or words
    added between them; none for a sentence not cut, head_words 0)."""
    if language == "ja":
        return jiwer.cer(reference.rstrip("。"), hypothesis.strip().rstrip("。")), 0
    reference, hypothesis = normalize(reference), normalize(spoken(hypothesis)) or "-"
    result = jiwer.process_words(reference, hypothesis)
    seam = 0
    for chunk in result.alignments[0] if head_words else []:
        if chunk.type in ("substitute", "delete"):
            seam += sum(i in (head_words - 1, head_words) for i in range(chunk.ref_start_idx, chunk.ref_end_idx))
        elif chunk.type == "insert" and chunk.ref_start_idx == head_words:
            seam += chunk.hyp_end_idx - chunk.hyp_start_idx
    return result.wer, seam


def said_cut(engine, pieces: list[str], voice: Voice) -> np.ndarray:
    """The pieces back to back as the service synthesizes and streams them (24 kHz)."""
    pcm = b"".join(synthesize_piece(engine, piece, voice) for piece in pieces)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768


def paired(differences: list[float]) -> str:
    """Mean ± 2 standard errors over sentences."""
    spread = 2 * statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else 0.0
    return f"{statistics.mean(differences):+.3f} ± {spread:.3f}"


def run_set(engine, whisper, language: str, voice: Voice, texts: list[str], draws: int) -> dict[str, object]:
    def heard(text: str, audio: np.ndarray, rate: int, head_words: int) -> tuple[float, int]:
        return errors(language, text, transcript(whisper, audio, rate, language), head_words)

    def synthesize(text: str) -> np.ndarray:
        return engine.synthesize(text, voice)

    whole_s, first_s, rates, seams = [], [], {"whole": [], "again": [], "cut": []}, {"whole": 0, "cut": 0}
    for text in texts:
        pieces = sentences(text)
        head_words = len(normalize(pieces[0]).split()) if len(pieces) > 1 else 0
        whole_s.append(median_seconds(synthesize, text, draws))
        first_s.append(median_seconds(synthesize, pieces[0], draws))
        per_sentence = {kind: [] for kind in rates}
        for _ in range(draws):  # the engines sample (Piper's noise scale): each draw is heard anew
            for kind in ("whole", "again"):
                rate, seam = heard(text, synthesize(text), engine.sample_rate, head_words)
                per_sentence[kind].append(rate)
                seams["whole"] += seam if kind == "whole" else 0
            rate, seam = heard(text, said_cut(engine, pieces, voice), OUTPUT_RATE, head_words)
            per_sentence["cut"].append(rate)
            seams["cut"] += seam
        for kind, values in per_sentence.items():
            rates[kind].append(statistics.mean(values))
    return {
        "whole_s": whole_s,
        "first_s": first_s,
        "rates": rates,
        "seams": {kind: 100 * count / (len(texts) * draws) for kind, count in seams.items()},
    }


def row(name: str, set_name: str, language: str, r: dict) -> str:
    whole_ms, first_ms = [1000 * s for s in r["whole_s"]], [1000 * s for s in r["first_s"]]
    rates = r["rates"]
    again = [a - w for a, w in zip(rates["again"], rates["whole"], strict=True)]
    cut = [c - w for c, w in zip(rates["cut"], rates["whole"], strict=True)]
    return (
        f"| {name} | {set_name} | {len(whole_ms)} | {statistics.median(whole_ms):.0f} / {max(whole_ms):.0f} ms "
        f"| {statistics.median(first_ms):.0f} / {max(first_ms):.0f} ms "
        f"| {statistics.median(first_ms) / statistics.median(whole_ms):.2f} "
        f"| {statistics.mean(rates['whole']):.3f} | {statistics.mean(rates['again']):.3f} "
        f"| {statistics.mean(rates['cut']):.3f} | {paired(again)} | {paired(cut)} "
        f"| {r['seams']['whole']:.1f} | {r['seams']['cut']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--engines", default=",".join(CASES))
    parser.add_argument("--sets", default="tuning,held-out")
    args = parser.parse_args()
    whisper = load_asr_model(AsrSettings())
    print(
        "| engine | sentences | n | whole sentence p50 / max | first piece p50 / max | ratio (p50) "
        "| error: whole | whole again | cut | whole again − whole | cut − whole | seam errors per 100: whole | cut |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.engines.split(","):
        language, voice_name, sets = CASES[name]
        engine = loaders(TtsSettings())[name]()
        voice = Voice(name, voice_name, language)
        for set_name in args.sets.split(","):
            if set_name in sets:
                r = run_set(engine, whisper, language, voice, sets[set_name], args.draws)
                print(row(name, set_name, language, r), flush=True)


if __name__ == "__main__":
    main()
