"""Simulated conversations for tuning and checking diarization, built from the shared single-speaker clips.

Usage: .venv/bin/python bench/diarization_sim.py [--out build/diarization_sim] [--per-group 12] [--seed 18]

Seeded and deterministic. Each conversation has 1, 2, 3 or 4 speakers (the 1-speaker group only checks
that a monologue is not split) and lasts 30-90 s: turns alternate between speakers (never the same speaker
twice in a row, every speaker at least twice), with pauses of 0.2-1.5 s, and in some conversations short
overlaps (0.1-0.5 s), level differences between speakers (a 6-12 dB spread) and noise (white, pink or
babble of time-reversed speech from speakers not in the conversation) at an SNR of 10-25 dB.

A turn is a piece of one clip: consecutive Silero VAD regions of the clean clip, 1.5-7 s of them. The
reference marks those VAD regions where they are placed (pauses under 0.25 s count as speech, as an
annotator would mark them), so it says where each speaker actually speaks, noise or not. A speaker's
pieces are used once each before any is used again; speakers with little material (the SpeechBrain,
LJ, JFK and multilingual clips: 4-13 s) are picked less often, but do repeat a piece in long
conversations. Writes <name>.wav, <name>.rttm and index.json to --out.
"""

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.common.audio import decode_audio, write_wav

DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "build" / "diarization_sim"
RATE = 16_000
SEED = 18
GROUPS = (1, 2, 3, 4)
NOISES = ("white", "pink", "babble")
# Reference speech: tight Silero regions; pauses shorter than 0.25 s stay inside a speech region.
REFERENCE_VAD = VadOptions(threshold=0.5, min_silence_duration_ms=250, speech_pad_ms=30)
MARGIN_S = 0.1  # of the clip's own audio kept around a piece (room tone, no speech)


@dataclass(frozen=True)
class Piece:
    speaker: str
    audio: np.ndarray  # clip samples from MARGIN_S before the first region to MARGIN_S after the last
    regions: tuple[tuple[float, float], ...]  # speech, seconds from the start of `audio`


@dataclass(frozen=True)
class Conversation:
    name: str
    speakers: int
    overlap: bool
    level_spread_db: float
    noise: str | None
    snr_db: float | None
    audio: np.ndarray
    turns: list[tuple[float, float, str]]  # reference speech: start, end, speaker

    def rttm(self) -> str:
        return "".join(
            f"SPEAKER {self.name} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} <NA> <NA>\n"
            for start, end, speaker in self.turns
        )

    def summary(self) -> dict:
        fields = asdict(self)
        del fields["audio"], fields["turns"]
        return {**fields, "duration_s": round(self.audio.size / RATE, 2), "labels": sorted(self.labels())}

    def labels(self) -> set[str]:
        return {speaker for _, _, speaker in self.turns}


def speaker_of(local_path: str) -> str | None:
    """Speaker id of a clip in MANIFEST.tsv, or None for clips not used (too short or not one talker)."""
    name = Path(local_path).stem
    if local_path.startswith("speaker/libri_testother_"):
        return "libri" + name.split("_")[2]
    if name.startswith("sb_spk"):
        return name[:7]
    if name.startswith("fr_stp_human_"):
        return "fr_stp"  # the speech-to-phrase French commands are one recorded voice
    if local_path.startswith(("asr/", "multilingual/")) and name != "en_one_two_three":
        return name  # one clip, one speaker (LJ, JFK, LibriSpeech 1995, ja, ko, ru, zh)
    return None


@cache
def pieces_by_speaker() -> dict[str, tuple[Piece, ...]]:
    rows = (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]
    rng = np.random.default_rng(SEED)
    out: dict[str, list[Piece]] = {}
    for path in sorted(row.split("\t")[0] for row in rows):
        speaker = speaker_of(path)
        if speaker is None:
            continue
        audio = decode_audio((DATA / path).read_bytes(), max_duration_s=600)
        audio = audio / max(active_rms(audio), 1e-4) * 0.05  # every clip at the same speech level
        out.setdefault(speaker, []).extend(split_clip(speaker, audio, rng))
    return {speaker: tuple(pieces) for speaker, pieces in out.items()}


def active_rms(audio: np.ndarray) -> float:
    frames = audio[: audio.size // 320 * 320].reshape(-1, 320)
    energy = (frames**2).mean(axis=1)
    loud = energy[energy >= np.quantile(energy, 0.5)]
    return float(np.sqrt(loud.mean())) if loud.size else 0.0


def split_clip(speaker: str, audio: np.ndarray, rng: np.random.Generator) -> list[Piece]:
    """Consecutive VAD regions grouped into pieces of about 1.5-7 s."""
    regions = [(s["start"] / RATE, s["end"] / RATE) for s in get_speech_timestamps(audio, REFERENCE_VAD)]
    pieces, group, target = [], [], rng.uniform(1.5, 7.0)
    for index, region in enumerate(regions):
        group.append(region)
        last = index == len(regions) - 1
        if group[-1][1] - group[0][0] >= target or last:
            start = max(0.0, group[0][0] - MARGIN_S)
            end = min(audio.size / RATE, group[-1][1] + MARGIN_S)
            clip = audio[round(start * RATE) : round(end * RATE)]
            pieces.append(Piece(speaker, clip, tuple((a - start, b - start) for a, b in group)))
            group, target = [], rng.uniform(1.5, 7.0)
    return pieces


def material_s(pieces: tuple[Piece, ...]) -> float:
    return sum(b - a for piece in pieces for a, b in piece.regions)


def conversation(speakers: int, index: int, seed: int = SEED) -> Conversation:
    """The `index`-th simulated conversation with `speakers` speakers (the same for the same arguments)."""
    rng = np.random.default_rng([seed, speakers, index])
    pool = pieces_by_speaker()
    names = sorted(pool)
    weights = np.array([material_s(pool[n]) for n in names]) ** 1.5
    chosen = list(rng.choice(names, size=speakers, replace=False, p=weights / weights.sum()))
    overlap = speakers > 1 and index % 2 == 1
    noise = (None, *NOISES)[(index // 2) % 4]
    level_spread = float(rng.uniform(6, 12)) if speakers > 1 and index % 3 != 0 else 0.0
    snr = float(rng.uniform(10, 25)) if noise else None
    gains_db = {s: rng.uniform(-1.5, 1.5) for s in chosen}
    if level_spread:
        offsets = rng.permutation(np.linspace(0, level_spread, speakers))
        gains_db = {s: gains_db[s] + offsets[i] - level_spread / 2 for i, s in enumerate(chosen)}
    placed = place_turns(chosen, pool, rng, rng.uniform(30, 90), overlap)
    length = round((max(start + piece.audio.size / RATE for start, piece in placed) + rng.uniform(0.3, 1.0)) * RATE)
    mix = np.zeros(length, np.float32)
    turns = []
    for start, piece in placed:
        begin = round(start * RATE)
        gain = 10 ** ((gains_db[piece.speaker] + rng.uniform(-1, 1)) / 20)
        mix[begin : begin + piece.audio.size] += gain * piece.audio
        turns += [(start + a, start + b, piece.speaker) for a, b in piece.regions]
    if noise:
        speech = np.zeros(length, bool)
        for a, b, _ in turns:
            speech[round(a * RATE) : round(b * RATE)] = True
        level = np.sqrt(np.mean(mix[speech] ** 2)) / 10 ** (snr / 20)
        background = make_noise(noise, length, [n for n in names if n not in chosen], pool, rng)
        mix += level * background / np.sqrt(np.mean(background**2))
    mix /= max(1.0, float(np.abs(mix).max()) / 0.95)
    tag = "x".join(filter(None, ["ovl" if overlap else "", f"lvl{level_spread:.0f}" if level_spread else "", noise]))
    name = f"sim{speakers}_{index:02d}_{tag or 'clean'}"
    return Conversation(
        name=name,
        speakers=speakers,
        overlap=overlap,
        level_spread_db=round(level_spread, 1),
        noise=noise,
        snr_db=None if snr is None else round(snr, 1),
        audio=mix,
        turns=sorted(turns),
    )


def place_turns(
    chosen: list[str], pool: dict[str, tuple[Piece, ...]], rng: np.random.Generator, target_s: float, overlap: bool
) -> list[tuple[float, Piece]]:
    """(start of the piece's audio, piece) per turn. Turns follow each other after a pause, or, in a
    conversation with overlaps, a third of them start up to 0.5 s before the previous speech ends."""
    queues = {s: [] for s in chosen}
    dominance = dict(zip(chosen, rng.dirichlet(np.full(len(chosen), 3.0)), strict=True))
    left = {s: material_s(pool[s]) for s in chosen}
    spoken = dict.fromkeys(chosen, 0)
    placed: list[tuple[float, Piece]] = []
    speech_end, previous = rng.uniform(0.3, 1.0), None
    while speech_end < target_s or min(spoken.values()) < 2:
        others = [s for s in chosen if s != previous] or chosen
        unheard = [s for s in others if spoken[s] == 0]
        candidates = unheard or others
        weights = np.array([dominance[s] * max(left[s], 2.0) for s in candidates])
        speaker = str(rng.choice(candidates, p=weights / weights.sum()))
        if not queues[speaker]:
            queues[speaker] = list(rng.permutation(len(pool[speaker])))
        piece = pool[speaker][queues[speaker].pop()]
        left[speaker] -= sum(b - a for a, b in piece.regions)
        if overlap and placed and rng.random() < 1 / 3:
            speech_start = speech_end - rng.uniform(0.1, 0.5)
        else:
            speech_start = speech_end + (rng.uniform(0.2, 1.5) if placed else 0.0)
        start = speech_start - piece.regions[0][0]
        placed.append((start, piece))
        speech_end = max(speech_end, start + piece.regions[-1][1])
        spoken[speaker] += 1
        previous = speaker
    return placed


def make_noise(
    kind: str, length: int, outsiders: list[str], pool: dict[str, tuple[Piece, ...]], rng: np.random.Generator
) -> np.ndarray:
    white = rng.standard_normal(length)
    if kind == "white":
        return white
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
        return np.fft.irfft(spectrum, n=length)
    # babble: six streams of time-reversed speech of other speakers, each looped from a random offset
    babble = np.zeros(length)
    for speaker in rng.choice(outsiders, size=6, replace=True):
        stream = np.concatenate([p.audio[::-1] for p in pool[speaker]])
        stream = np.roll(np.tile(stream, length // stream.size + 1)[:length], int(rng.integers(stream.size)))
        babble += stream / max(np.sqrt(np.mean(stream**2)), 1e-6)
    return babble


def dev_set(per_group: int = 12, seed: int = SEED) -> list[Conversation]:
    """`per_group` conversations of each of 2, 3 and 4 speakers, and a third as many monologues."""
    counts = {1: max(1, per_group // 3), 2: per_group, 3: per_group, 4: per_group}
    return [conversation(speakers, i, seed) for speakers in GROUPS for i in range(counts[speakers])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--per-group", type=int, default=12)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    write_dev_set(args.out, args.per_group, args.seed)


def write_dev_set(out: Path, per_group: int = 12, seed: int = SEED) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for conv in dev_set(per_group, seed):
        write_wav(out / f"{conv.name}.wav", conv.audio, RATE)
        (out / f"{conv.name}.rttm").write_text(conv.rttm())
        index.append(conv.summary())
        print(json.dumps(index[-1]))
    (out / "index.json").write_text(json.dumps(index, indent=1))
    print(f"{len(index)} conversations, {sum(c['duration_s'] for c in index) / 60:.1f} min, in {out}")


if __name__ == "__main__":
    main()
