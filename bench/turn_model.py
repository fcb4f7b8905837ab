"""The stream turn model's false early ends and lost words, against the silence-only rule.

Usage: .venv/bin/python bench/turn_model.py [--silence 300 500] [--conversations 4] [--no-words]
       [--realtime] [--only conversations|read speech]

Audio the model was not tuned on: every English read-speech clip of the shared data (asr/, the 15
LibriSpeech test-other clips of speaker/: long read speech with pauses inside sentences) and simulated
conversations (bench/diarization_sim.py, seeded: turns of 1.5-7 s of one speaker, pauses of 0.2-1.5 s,
some with overlap, level spread and noise), each followed by 1.5 s of silence.

Turn ends: the stream's own turn detection (Silero VAD, services/asr/streaming/turns.py) and the real
ONNX model, on the stream's clock (100 ms chunks), once with silence only and once with the model, at
each `silence_ms`; a turn the model ended that speech carried on before silence_ms counts once, at its
real end (its final replaces the early one). A turn end is *inside a sentence* when the raw engine's last word before it
(faster-whisper, beam 5, word timestamps, on the whole item) does not end with . ? or ! — Whisper's
punctuation as the sentence reference. The end of an item is never counted.

Lost words (unless --no-words): the items streamed through the ASR app (in process, real session, real
Whisper) with the model on and off (`turn_model=false`), at the largest `silence_ms`; recall of the raw
engine's words in the finals (jiwer hits / raw words) and the number of finals, a final that
`replaces_previous` taking the place of the one before it. Audio goes as fast as the decodes go, unless
--realtime: then 100 ms chunks at the microphone's pace, as a voice agent's user sends them (a turn's
prompt is the previous turn's latest text, and which text that is depends on what is decoded first).
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.diarization_sim import conversation
from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.asr.streaming.turn_model import TurnModel
from services.asr.streaming.turns import TurnCheck, TurnDetector, TurnEnded, TurnSettings
from services.asr.streaming.vad import WINDOW, StreamingVad
from tests.audio_files import read_mono
from tests.conftest import DATA
from tests.in_process import running_service
from tests.streaming import audio_message, user_turns
from tests.text import normalize

RATE, CHUNK = 16_000, 1_600
TAIL_S = 1.5
SENTENCE_END = (".", "?", "!")
WORD_SLACK_S = 0.25  # Whisper's word ends are approximate


def items(conversations: int) -> list[tuple[str, np.ndarray]]:
    clips = sorted(p for p in (DATA / "asr").iterdir() if p.name.startswith(("en_", "sb_")))
    clips += sorted((DATA / "speaker").glob("*.flac"))
    found = [(str(p.relative_to(DATA)), read_mono(p.read_bytes())) for p in clips]
    sims = [conversation(speakers, index) for index in range(conversations // 2) for speakers in (2, 3)]
    return found + [(sim.name, sim.audio) for sim in sims]


def raw_words(model, audio: np.ndarray) -> list[tuple[float, str]]:
    segments, _ = model.transcribe(audio, language="en", beam_size=5, vad_filter=False, word_timestamps=True)
    return [(word.end, word.word.strip()) for segment in segments for word in segment.words]


def turn_ends(
    model: TurnModel | None, audio: np.ndarray, silence_ms: int, threshold: float = 0.5
) -> list[tuple[float, bool]]:
    """(speech end in s, ended by the model) of every turn, on the stream's clock."""
    audio = np.concatenate([audio, np.zeros(int(TAIL_S * RATE), np.float32)])
    settings = TurnSettings(silence_ms=silence_ms, model_pause_ms=200 if model else 0)
    vad, detector = StreamingVad(), TurnDetector(settings)
    ends = []
    for start in range(0, audio.size, CHUNK):
        check = None
        for event in detector.feed(*vad.process(audio[start : start + CHUNK])):
            check = event if isinstance(event, TurnCheck) else check
            if isinstance(event, TurnEnded):
                if event.continues and ends:
                    ends.pop()  # the turn the model ended went on: this end replaces that one
                ends.append((detector.last_turn_ended * WINDOW / RATE, False))
        if (
            check
            and model.complete_probability(check.audio) >= threshold
            and (ended := detector.end_if_still_paused(check))
        ):
            if ended.continues and ends:
                ends.pop()  # a carried-on turn the model ended again
            ends.append((detector.last_turn_ended * WINDOW / RATE, True))
        vad.reset_if_due(detector.listening)
    return ends


def inside_sentence(end_s: float, words: list[tuple[float, str]]) -> bool:
    before = [text for t, text in words if t <= end_s + WORD_SLACK_S]
    return bool(before) and not before[-1].endswith(SENTENCE_END)


def group(name: str) -> str:
    return "conversations" if name.startswith("sim") else "read speech"


def count_ends(model: TurnModel, corpus, raw: dict, silence: list[int], thresholds: list[float]) -> dict:
    """(silence_ms, rule, group) -> [turn ends, inside a sentence, by the model, by the model inside]."""
    table: dict = {}
    rules = [("silence only", None, 0.5)] + [(f"model, P >= {t}", model, t) for t in thresholds]
    for ms in silence:
        for label, turn_model, threshold in rules:
            for name, audio in corpus:
                ends = turn_ends(turn_model, audio, ms, threshold)[:-1]  # the item's own end is not a decision
                flags = [(inside_sentence(t, raw[name]), m) for t, m in ends]
                row = table.setdefault((ms, label, group(name)), [0, 0, 0, 0])
                row[0] += len(ends)
                row[1] += sum(i for i, _ in flags)
                row[2] += sum(m for _, m in flags)
                row[3] += sum(i and m for i, m in flags)
    return table


def stream_finals(client, audio: np.ndarray, query: str, realtime: bool) -> list[str]:
    audio = np.concatenate([audio, np.zeros(int(TAIL_S * RATE), np.float32)])
    with client.websocket_connect(f"/ws/transcribe/vad?{query}") as ws:
        began = time.monotonic()
        for start in range(0, audio.size, CHUNK):
            if realtime:
                time.sleep(max(0.0, began + start / RATE - time.monotonic()))
            ws.send_text(audio_message(audio[start : start + CHUNK]))
        ws.send_text(json.dumps({"type": "end"}))
        events = []
        while (message := ws.receive())["type"] != "websocket.close":
            events.append(json.loads(message["text"]))
    return user_turns(events)


def word_recall(corpus, raw: dict, silence_ms: int, realtime: bool) -> tuple[dict, list[str]]:
    """(rule, audio) -> [hits, raw words, finals]; and the items where the model's finals have fewer hits."""
    totals: dict = {}
    worse = []
    with tempfile.TemporaryDirectory() as data, running_service("asr", Path(data), timeout=180) as client:
        for name, audio in corpus:
            reference = normalize(" ".join(text for _, text in raw[name]))
            hits = {}
            for label, query in (("model", "&turn_model=true"), ("silence only", "&turn_model=false")):
                finals = stream_finals(client, audio, f"silence_ms={silence_ms}&language=en{query}", realtime)
                hypothesis = normalize(" ".join(finals))
                hits[label] = jiwer.process_words(reference, hypothesis).hits if hypothesis and reference else 0
                t = totals.setdefault((label, group(name)), [0, 0, 0])
                t[0], t[1], t[2] = t[0] + hits[label], t[1] + len(reference.split()), t[2] + len(finals)
            if hits["model"] < hits["silence only"]:
                worse.append(f"{name}: {hits['silence only'] - hits['model']} words fewer")
    return totals, worse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--silence", type=int, nargs="+", default=[300, 500])
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5])
    parser.add_argument("--no-words", action="store_true")
    parser.add_argument("--realtime", action="store_true", help="stream the words' items at the microphone's pace")
    parser.add_argument("--only", choices=["conversations", "read speech"], help="one group of items")
    args = parser.parse_args()
    corpus = [item for item in items(args.conversations) if args.only in (None, group(item[0]))]
    engine = load_asr_model(AsrSettings())
    raw = {name: raw_words(engine, audio) for name, audio in corpus}
    seconds = sum(a.size for _, a in corpus) / RATE
    print(f"{len(corpus)} items, {seconds:.0f} s of speech and pauses; the model asked at a 200 ms pause\n")
    print(
        "| silence_ms | rule | audio | turn ends (not at an item's end) | inside a sentence | by the model | "
        "by the model inside a sentence |"
    )
    print("|---|---|---|---|---|---|---|")
    model = TurnModel(AsrSettings().stream_turn_model)
    for (ms, label, kind), (total, inside, by_model, inside_by_model) in sorted(
        count_ends(model, corpus, raw, args.silence, args.thresholds).items()
    ):
        print(f"| {ms} | {label} | {kind} | {total} | {inside} | {by_model} | {inside_by_model} |")
    if args.no_words:
        return
    ms = max(args.silence)
    pace = "at the microphone's pace" if args.realtime else "as fast as decoded"
    print(f"\nWords, silence_ms {ms}, {pace}: recall of the raw engine's words in the finals")
    print("| rule | audio | recall | finals |")
    print("|---|---|---|---|")
    totals, worse = word_recall(corpus, raw, ms, args.realtime)
    for (label, kind), (hits, words, finals) in sorted(totals.items()):
        print(f"| {label} | {kind} | {hits / words:.3f} ({words - hits} of {words} words missing) | {finals} |")
    print("\nItems where the model's finals hold fewer of the raw engine's words:", "; ".join(worse) or "none")


if __name__ == "__main__":
    main()
