"""The diarization studies' shared parts: the CV set (simulated conversations and the two annotated files),
folds, the clustering stages on cached VAD and embeddings, a fast frame DER and the pyannote.metrics tables.

Used by bench/diarization_cv.py (parameter search) and bench/diarization_count.py (speaker-count rules).
"""

import dataclasses
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate
from scipy.optimize import linear_sum_assignment

from bench import diarization_sim as sim
from services.asr.diarization.base import SpeakerCount, SpeakerTurn
from services.asr.diarization.embedded import EmbeddedDiarizer, EmbeddedParams, turns_from_windows
from services.common.audio import decode_audio

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "diarization"
CACHE = REPO / "build" / "diarization_cv_cache"
SEED = 18


@dataclass(frozen=True)
class Item:
    name: str
    group: str  # "1".."4" for simulated conversations, "real" for the annotated files
    audio: np.ndarray
    reference: tuple[tuple[float, float, str], ...]
    cache: str = ""  # embedding cache name: the set's folder and the file (names repeat across seeds)

    @property
    def speakers(self) -> int:
        return len({label for _, _, label in self.reference})


def load_items(sim_dir: Path, real: bool = True) -> list[Item]:
    if not (sim_dir / "index.json").exists():
        sim.write_dev_set(sim_dir)
    items = []
    for entry in json.loads((sim_dir / "index.json").read_text()):
        name = entry["name"]
        audio = decode_audio((sim_dir / f"{name}.wav").read_bytes(), max_duration_s=600)
        rttm = read_rttm(sim_dir / f"{name}.rttm")
        items.append(Item(name, str(entry["speakers"]), audio, rttm, f"{sim_dir.name}/{name}"))
    for name in ("sample", "ami_dev00") if real else ():
        audio = decode_audio((REAL / f"{name}.wav").read_bytes(), max_duration_s=600)
        items.append(Item(name, "real", audio, read_rttm(REAL / "refs" / f"{name}.rttm"), f"real/{name}"))
    return items


def read_rttm(path: Path) -> tuple[tuple[float, float, str], ...]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return tuple((float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows)


def assign_folds(items: list[Item], folds: int) -> dict[str, int]:
    """Stratified by group: each group's conversations are dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(SEED)
    out = {}
    by_group = defaultdict(list)
    for item in items:
        by_group[item.group].append(item.name)
    offset = 0
    for group in sorted(by_group):
        for rank, name in enumerate(rng.permutation(by_group[group])):
            out[str(name)] = (rank + offset) % folds
        offset += len(by_group[group])
    return out


class Evaluator:
    """Runs the diarizer's clustering stages on cached VAD and embeddings; memoises per configuration
    (keyed by repr: faster-whisper's VadOptions is not hashable)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.diarizer = EmbeddedDiarizer("cpu")
        self.results: dict[str, dict[str, tuple[float, float, int]]] = {}
        self._speech: dict[tuple[int, str], list[dict[str, int]]] = {}
        self._windows: dict[tuple[int, float], tuple[np.ndarray, list[slice]]] = {}
        CACHE.mkdir(parents=True, exist_ok=True)

    def speech(self, index: int, vad: VadOptions) -> list[dict[str, int]]:
        key = (index, repr(vad))
        if key not in self._speech:
            self._speech[key] = get_speech_timestamps(self.items[index].audio, vad)
        return self._speech[key]

    def windows(self, index: int, hop_s: float) -> tuple[np.ndarray, list[slice]]:
        if (index, hop_s) not in self._windows:
            item = self.items[index]
            path = CACHE / f"{item.cache or item.name}_hop{hop_s}.npz"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                self.diarizer.params = EmbeddedParams(hop_s=hop_s)
                partials, slices = self.diarizer.embed(item.audio)
                np.savez(path, partials=partials, bounds=np.array([(s.start, s.stop) for s in slices]))
            data = np.load(path)
            self._windows[index, hop_s] = (data["partials"], [slice(int(a), int(b)) for a, b in data["bounds"]])
        return self._windows[index, hop_s]

    def turns(self, index: int, params: EmbeddedParams) -> list[SpeakerTurn]:
        item = self.items[index]
        speech = self.speech(index, params.vad)
        if not speech:
            return []
        partials, slices = self.windows(index, params.hop_s)
        return turns_from_windows(item.audio.size, speech, partials, slices, SpeakerCount(), params)

    def evaluate(self, params: EmbeddedParams) -> dict[str, tuple[float, float, int]]:
        """name → (error s, reference s, speakers found) at collar 0.25, overlap excluded (frame DER)."""
        key = repr(params)
        if key not in self.results:
            out = {}
            for index, item in enumerate(self.items):
                turns = self.turns(index, params)
                error, total = frame_der(item.reference, turns, collar=0.25, skip_overlap=True)
                out[item.name] = (error, total, len({t.speaker for t in turns}))
            self.results[key] = out
        return self.results[key]


def frame_der(
    reference: tuple[tuple[float, float, str], ...], turns: list[SpeakerTurn], collar: float, skip_overlap: bool
) -> tuple[float, float]:
    """DER numerator and denominator (seconds) on 10 ms frames, scored as pyannote.metrics does:
    `collar` is the total width removed around each reference boundary, and the speaker mapping is
    the one-to-one assignment that maximises matched time."""
    end = max([e for _, e, _ in reference] + [t.end for t in turns] + [0.0])
    frames = math.ceil(end * 100) + 1
    ref_labels = sorted({label for _, _, label in reference})
    ref = np.zeros((len(ref_labels), frames), bool)
    scored = np.ones(frames, bool)
    for start, stop, label in reference:
        ref[ref_labels.index(label), round(start * 100) : round(stop * 100)] = True
        for boundary in (start, stop):
            scored[max(0, round((boundary - collar / 2) * 100)) : round((boundary + collar / 2) * 100)] = False
    hyp_labels = sorted({t.speaker for t in turns})
    hyp = np.zeros((len(hyp_labels), frames), bool)
    for turn in turns:
        hyp[hyp_labels.index(turn.speaker), round(turn.start * 100) : round(turn.end * 100)] = True
    if skip_overlap:
        scored &= ref.sum(axis=0) <= 1
    ref, hyp = ref[:, scored], hyp[:, scored]
    correct = np.zeros(ref.shape[1])
    if hyp_labels and ref_labels:
        overlap = ref.astype(np.float32) @ hyp.T.astype(np.float32)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        correct = sum((ref[r] & hyp[c]).astype(float) for r, c in zip(rows, cols, strict=True))
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    return float((np.maximum(n_ref, n_hyp) - correct).sum()) / 100, float(n_ref.sum()) / 100


def pooled(results: dict[str, tuple[float, float, int]], names: list[str]) -> float:
    return sum(results[n][0] for n in names) / max(sum(results[n][1] for n in names), 1e-9)


def balanced(evaluator: Evaluator, results: dict[str, tuple[float, float, int]], names: list[str]) -> float:
    """Mean over groups (1-4 speakers, real) of the pooled DER: the two real files weigh as much as
    each simulated group, though they are 1 minute of 47."""
    groups = defaultdict(list)
    for item in evaluator.items:
        if item.name in names:
            groups[item.group].append(item.name)
    return float(np.mean([pooled(results, members) for members in groups.values()]))


def describe(params: EmbeddedParams) -> str:
    vad = params.vad
    fields = {f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.name != "vad"}
    return (
        f"vad(threshold={vad.threshold}, min_silence_ms={vad.min_silence_duration_ms}, "
        f"pad_ms={vad.speech_pad_ms}) " + " ".join(f"{k}={v}" for k, v in fields.items())
    )


def annotation(segments) -> Annotation:
    out = Annotation()
    for i, (start, end, label) in enumerate(segments):
        out[Segment(start, end), i] = label
    return out


def scores(evaluator: Evaluator, params: EmbeddedParams) -> dict[str, dict]:
    """Per file: the four pyannote DERs (components summed per group later) and the count."""
    out = {}
    for index, item in enumerate(evaluator.items):
        turns = evaluator.turns(index, params)
        ref, hyp = annotation(item.reference), annotation([(t.start, t.end, t.speaker) for t in turns])
        row = {"found": len({t.speaker for t in turns}), "speakers": item.speakers, "group": item.group}
        for collar in (0.0, 0.25):
            for skip in (False, True):
                metric = DiarizationErrorRate(collar=collar, skip_overlap=skip)
                detail = metric(ref, hyp, detailed=True)
                row[(collar, skip)] = (
                    detail["missed detection"] + detail["false alarm"] + detail["confusion"],
                    detail["total"],
                )
        out[item.name] = row
    return out


def table(rows_by_label: dict[str, dict[str, dict]]) -> list[str]:
    """Markdown: per group and pooled, for each labelled parameter set."""
    lines = [
        "| params | group | files | DER c0 | DER c0 no-ovl | DER c0.25 | DER c0.25 no-ovl "
        "| count exact | count abs err |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, rows in rows_by_label.items():
        groups = sorted({r["group"] for r in rows.values()}) + ["sim 2-4", "all"]
        for group in groups:
            if group == "sim 2-4":
                members = [r for r in rows.values() if r["group"] in ("2", "3", "4")]
            elif group == "all":
                members = list(rows.values())
            else:
                members = [r for r in rows.values() if r["group"] == group]
            ders = [
                sum(r[key][0] for r in members) / max(sum(r[key][1] for r in members), 1e-9)
                for key in ((0.0, False), (0.0, True), (0.25, False), (0.25, True))
            ]
            exact = np.mean([r["found"] == r["speakers"] for r in members])
            err = np.mean([abs(r["found"] - r["speakers"]) for r in members])
            cells = " | ".join(f"{d:.3f}" for d in ders)
            lines.append(f"| {label} | {group} | {len(members)} | {cells} | {exact:.0%} | {err:.2f} |")
    return lines
