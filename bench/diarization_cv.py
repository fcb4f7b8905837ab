"""Cross-validated choice of the embedded diarizer's parameters, on simulated conversations and the shared files.

Usage: .venv/bin/python bench/diarization_cv.py [--sim build/diarization_sim] [--folds 4] [--passes 1]
       .venv/bin/python bench/diarization_cv.py --count [--holdout build/diarization_sim_1818]

--count cross-validates only the speaker-count rule (everything else at the defaults) and scores the
choices on an unseen set written by bench/diarization_sim.py --seed 1818 --per-group 6 --out DIR.

In process only (no fleet). The set is the generated conversations of bench/diarization_sim.py (1-4
speakers; written first if --sim holds none) plus the two annotated real files. Conversations are split
into --folds folds, stratified by group; each fold's parameters are chosen on the other folds by block
coordinate descent on DER (collar 0.25 s, overlap excluded) pooled per group (1-4 speakers, real) and
averaged over groups, and scored on that fold. The
parameters chosen on the whole set are then scored against the current defaults with pyannote.metrics:
DER at collar 0 and 0.25 with overlap scored and excluded, and the speaker-count error per group.

Embeddings depend only on the file and the hop, and VAD only on its options, so both are cached
(embeddings on disk, in build/diarization_cv_cache/); a clustering configuration costs milliseconds a file.
"""

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import diarization_sim as sim
from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance
from services.asr.diarization.embedded import (
    FRAME,
    EmbeddedDiarizer,
    EmbeddedParams,
    absorb,
    big_clusters,
    label_speech,
    silhouette,
    speech_mask,
    split,
    turns_from_windows,
)
from services.common.audio import decode_audio

warnings.filterwarnings("ignore")
REAL = REPO.parent / "shared" / "data" / "diarization"
CACHE = REPO / "build" / "diarization_cv_cache"
SEED = 18

# The search space: each block is searched jointly, the others held fixed.
BLOCKS: dict[str, list[dict]] = {
    "vad": [{"vad": VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=p)} for p in (100, 200, 300)],
    "windows": [{"hop_s": h, "min_window_speech": w} for h in (0.5, 0.75) for w in (0.3, 0.5, 0.7, 0.9)],
    "count": [
        {"distance_threshold": t, "min_cluster_s": m}
        for t in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
        for m in (1.0, 2.0, 4.0, 6.0)
    ],
    "fill": [{"fill_gap_s": g} for g in (0.5, 1.0, 2.0, 3.0)],
}


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


def search(evaluator: Evaluator, names: list[str], passes: int, log=None) -> EmbeddedParams:
    """Block coordinate descent from the current defaults on the group-balanced DER over `names`."""
    params = EmbeddedParams()
    best = balanced(evaluator, evaluator.evaluate(params), names)
    for _ in range(passes):
        changed = False
        for block, options in BLOCKS.items():
            for option in options:
                candidate = dataclasses.replace(params, **option)
                der = balanced(evaluator, evaluator.evaluate(candidate), names)
                if der < best - 1e-6:
                    params, best, changed = candidate, der, True
            if log:
                log(f"  {block}: {best:.4f}")
        if not changed:
            break
    return params


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


# ---------------------------------------------------------------------------------------------------------
# Speaker-count rules (--count): which k to cut the tree at, with everything else at the defaults.
# Every rule only picks k; the partition for a given k is the diarizer's own `split`, so the DER of each
# k is computed once per file and a rule costs a table look-up.

COUNT_T = (0.25, 0.3, 0.35, 0.4)  # distance cut that says how many big clusters there are
COUNT_M = (2.0, 4.0, 6.0)  # minimum cluster, seconds
K_MAX = 8  # SpeakerCount().maximum


@dataclass
class CountFeatures:
    """What a count rule may look at for one file, and the frame DER (c0.25, no overlap) of every k."""

    name: str
    group: str
    speakers: int
    der: dict  # (m, k) → (error s, reference s)
    found: dict  # (t, m) → clusters of at least m seconds at the cut t
    sil: dict  # (m, k) → silhouette of split k over all windows (the current rule's score)
    core_sil: dict  # (m, k) → silhouette over the windows of the k kept clusters only (before absorption)
    dmin: dict  # (m, k) → smallest cosine distance between the centroids of split k's kept clusters
    spread: dict  # (m, k) → mean cosine distance of the kept windows to their own centroid
    cut_centroids: dict  # (t, m) → unit centroids of the big clusters at the cut t
    heights: dict  # (m, k) → highest cut distance with at least k big clusters (0 when never)


def split_core(tree: np.ndarray, n: int, speakers: int, min_windows: int) -> tuple[np.ndarray, list[int]]:
    """`embedded.split` before absorption: the labels of the cut it settles on and the kept clusters."""
    speakers = min(speakers, n)
    labels = np.zeros(n, int)
    for cut in range(speakers, n + 1):
        labels = fcluster(tree, t=cut, criterion="maxclust") - 1
        big = big_clusters(labels, min_windows)
        if len(big) >= speakers:
            return labels, big[:speakers]
    return labels, big_clusters(labels, 1)[:speakers]


def unit_centroids(embeddings: np.ndarray, labels: np.ndarray, keep: list[int]) -> np.ndarray:
    c = np.array([embeddings[labels == label].mean(axis=0) for label in keep])
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def count_features(evaluator: Evaluator, index: int, params: EmbeddedParams) -> CountFeatures:
    item = evaluator.items[index]
    speech = evaluator.speech(index, params.vad)
    partials, slices = evaluator.windows(index, params.hop_s)
    samples = item.audio.size
    is_speech = speech_mask(samples, speech)
    keep = [
        i
        for i, sl in enumerate(slices)
        if sl.start < samples
        and is_speech[sl.start // FRAME : min(sl.stop, samples) // FRAME + 1].mean() >= params.min_window_speech
    ]
    emb = partials[keep]
    centers = np.array([(slices[i].start + min(slices[i].stop, samples)) / 2 / 16_000 for i in keep])
    tree = linkage(emb, method="average", metric="cosine")
    n = len(emb)
    f = CountFeatures(item.name, item.group, item.speakers, {}, {}, {}, {}, {}, {}, {}, {})
    merge_heights = np.unique(tree[:, 2])[::-1]
    for m in COUNT_M:
        mw = max(1, round(m / params.hop_s))
        for k in range(1, K_MAX + 1):
            if k == 1:
                labels = np.zeros(n, int)
            else:
                core, kept = split_core(tree, n, k, mw)
                labels = absorb(emb, core, kept)
                if index == 0 and m == params.min_cluster_s:
                    assert (labels == split(tree, emb, k, mw)).all()
                inside = np.isin(core, kept)
                f.sil[m, k] = silhouette(emb, labels)
                f.core_sil[m, k] = silhouette(emb[inside], core[inside]) if len(kept) > 1 else -1.0
                c = unit_centroids(emb, core, kept)
                d = 1.0 - c @ c.T
                f.dmin[m, k] = float(d[np.triu_indices(len(kept), 1)].min()) if len(kept) > 1 else 0.0
                own = np.searchsorted(np.array(kept)[np.argsort(kept)], core[inside])
                cs = c[np.argsort(kept)]
                f.spread[m, k] = float(np.mean(1.0 - np.sum(emb[inside] * cs[own], axis=1)))
            turns = renumber_by_first_appearance(label_speech(samples, speech, centers, labels, params.fill_gap_s))
            f.der[m, k] = frame_der(item.reference, turns, collar=0.25, skip_overlap=True)
        for t in COUNT_T:
            labels = fcluster(tree, t=t, criterion="distance") - 1
            big = big_clusters(labels, mw)
            f.found[t, m] = len(big)
            f.cut_centroids[t, m] = unit_centroids(emb, labels, big) if big else np.zeros((0, emb.shape[1]))
        counts = [len(big_clusters(fcluster(tree, t=h - 1e-9, criterion="distance") - 1, mw)) for h in merge_heights]
        for k in range(1, K_MAX + 2):
            f.heights[m, k] = next((float(h) for h, c in zip(merge_heights, counts, strict=True) if c >= k), 0.0)
    return f


def rule_silhouette(
    f: CountFeatures, t: float, m: float, score: str = "sil", prior: float = 0.0, extra: int = 0
) -> int:
    """The current rule (score "sil", no prior, no extra): the best silhouette over [2, big clusters at the
    cut]; `prior` is added per speaker, `extra` lets the count go that far above the cut's."""
    found = f.found[t, m]
    if found < 2:
        return 1
    values = f.sil if score == "sil" else f.core_sil
    return max(range(2, min(found + extra, K_MAX) + 1), key=lambda k: values[m, k] + prior * k)


def rule_cut(f: CountFeatures, t: float, m: float, margin: float = math.inf) -> int:
    """The count at the cut, unless a smaller count's silhouette beats it by more than `margin`."""
    found = min(f.found[t, m], K_MAX)
    if found < 2:
        return 1
    best = max(range(2, found + 1), key=lambda k: f.sil[m, k])
    return best if f.sil[m, best] > f.sil[m, found] + margin else found


def rule_centroid(f: CountFeatures, t: float, m: float, tau: float, start: str = "cut", ratio: bool = False) -> int:
    """From the cut's (or the silhouette's) count down: the first k whose kept clusters' centroids are all
    at least `tau` apart in cosine distance (or `tau` times their mean within-cluster spread)."""
    k = min(f.found[t, m], K_MAX) if start == "cut" else rule_silhouette(f, t, m)
    while k >= 2:
        separation = f.dmin[m, k] / max(f.spread[m, k], 1e-9) if ratio else f.dmin[m, k]
        if separation >= tau:
            return k
        k -= 1
    return 1


def rule_merge_two(f: CountFeatures, t: float, m: float, tau: float) -> int:
    """The current rule, then one speaker when it says two and their centroids are closer than `tau`."""
    k = rule_silhouette(f, t, m)
    return 1 if k == 2 and f.dmin[m, 2] < tau else k


def rule_eigengap(f: CountFeatures, t: float, m: float, sigma: float) -> int:
    """Largest eigengap of the normalised Laplacian of the big-cluster centroids' affinity exp(-d/sigma)."""
    c = f.cut_centroids[t, m]
    if len(c) < 2:
        return 1
    affinity = np.exp(-(1.0 - c @ c.T) / sigma)
    degree = affinity.sum(axis=1)
    laplacian = np.eye(len(c)) - affinity / np.sqrt(np.outer(degree, degree))
    values = np.linalg.eigvalsh(laplacian)
    return min(int(np.argmax(np.diff(values))) + 1, K_MAX)


def rule_gap(f: CountFeatures, t: float, m: float) -> int:
    """Dendrogram gap: among the k whose k big clusters exist above the cut t, the one that survives the
    widest range of cut distances (H_k - H_k+1)."""
    ks = [k for k in range(2, K_MAX + 1) if f.heights[m, k] >= t]
    if not ks:
        return 1
    return max(ks, key=lambda k: f.heights[m, k] - f.heights[m, k + 1])


def count_configs() -> list[tuple[str, dict]]:
    """(family, keyword arguments) for every rule and parameter; the first is the rule before the
    study (silhouette over [2, the cut's count], count_above_cut 0)."""
    out: list[tuple[str, dict]] = [("silhouette", {"t": 0.3, "m": 4.0})]
    for t in COUNT_T:
        for m in COUNT_M:
            base = {"t": t, "m": m}
            out.append(("silhouette", base))
            out += [("silhouette prior", {**base, "prior": p}) for p in (0.01, 0.02, 0.04, 0.08)]
            out += [("core silhouette", {**base, "score": "core", "prior": p}) for p in (0.0, 0.02, 0.05)]
            out += [("silhouette to the cut + e", {**base, "extra": e}) for e in (1, 2)]
            out += [
                ("silhouette above the cut", {**base, "score": score, "prior": p, "extra": e})
                for score in ("sil", "core")
                for p in (0.0, 0.01, 0.02, 0.04)
                for e in (1, 2)
            ]
            out.append(("cut", base))
            out += [("cut unless silhouette", {**base, "margin": g}) for g in (0.01, 0.02, 0.05, 0.1, 0.2)]
            taus = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
            out += [("centroid from cut", {**base, "tau": v}) for v in taus]
            out += [("centroid from silhouette", {**base, "tau": v, "start": "sil"}) for v in taus]
            out += [("centroid ratio", {**base, "tau": v, "ratio": True}) for v in (1.0, 1.5, 2.0, 2.5, 3.0)]
            out += [("merge two", {**base, "tau": v}) for v in taus]
            out += [("eigengap", {**base, "sigma": v}) for v in (0.02, 0.05, 0.1, 0.2, 0.4)]
            out.append(("dendrogram gap", base))
    return list({repr(c): c for c in out}.values())


RULES = {
    "silhouette": rule_silhouette,
    "silhouette prior": rule_silhouette,
    "core silhouette": rule_silhouette,
    "silhouette above the cut": rule_silhouette,
    "silhouette to the cut + e": rule_silhouette,
    "cut": rule_cut,
    "cut unless silhouette": rule_cut,
    "centroid from cut": rule_centroid,
    "centroid from silhouette": rule_centroid,
    "centroid ratio": rule_centroid,
    "merge two": rule_merge_two,
    "eigengap": rule_eigengap,
    "dendrogram gap": rule_gap,
}


def apply_rule(config: tuple[str, dict], feats: list[CountFeatures]) -> dict[str, tuple[float, float, int]]:
    family, kwargs = config
    out = {}
    for f in feats:
        k = RULES[family](f, **kwargs)
        error, total = f.der[kwargs["m"], k]
        out[f.name] = (error, total, k)
    return out


def count_objective(feats: list[CountFeatures], results: dict, names: set[str]) -> tuple[float, float]:
    """(group-balanced pooled DER, mean count error) over `names`: DER first, the count breaks ties."""
    groups = defaultdict(list)
    for f in feats:
        if f.name in names:
            groups[f.group].append(f.name)
    der = float(np.mean([pooled(results, members) for members in groups.values()]))
    err = float(np.mean([abs(results[f.name][2] - f.speakers) for f in feats if f.name in names]))
    return round(der, 4), err


def choose_config(feats, table_of, configs, names) -> tuple[str, dict]:
    return min(configs, key=lambda c: count_objective(feats, table_of[repr(c)], names))


def count_row(label: str, feats: list[CountFeatures], results: dict) -> str:
    """One markdown row: per group, pooled DER / count exact / mean count error; then the balanced DER."""
    groups = sorted({f.group for f in feats})
    cells = []
    for group in [*groups, "sim 2-4"]:
        members = [f for f in feats if (f.group in ("2", "3", "4") if group == "sim 2-4" else f.group == group)]
        der = pooled(results, [f.name for f in members])
        exact = np.mean([results[f.name][2] == f.speakers for f in members])
        err = np.mean([abs(results[f.name][2] - f.speakers) for f in members])
        cells.append(f"{der:.3f} / {exact:.0%} / {err:.2f}")
    balanced_der = np.mean([pooled(results, [f.name for f in feats if f.group == g]) for g in groups])
    return f"| {label} | " + " | ".join(cells) + f" | {balanced_der:.3f} |"


def count_header(feats: list[CountFeatures]) -> str:
    groups = [f"{g} spk" if g != "real" else g for g in sorted({f.group for f in feats})]
    columns = [*groups, "sim 2-4"]
    return (
        "| rule | "
        + " | ".join(columns)
        + " | balanced DER |\n|---|"
        + "---|" * (len(columns) + 1)
        + "\n(cells: DER c0.25 no-ovl / count exact / count abs err)"
    )


def describe_config(config: tuple[str, dict]) -> str:
    family, kwargs = config
    return family + " " + " ".join(f"{k}={v}" for k, v in kwargs.items())


def family_members(pool: list[tuple[str, dict]], family: str) -> list[tuple[str, dict]]:
    """The configurations of one family; "silhouette to the cut + e" also holds e = 0 (the current rule)."""
    if family == "all rules":
        return pool
    current = [c for c in pool if c[0] == "silhouette"] if family == "silhouette to the cut + e" else []
    return current + [c for c in pool if c[0] == family]


def print_features(feats: list[CountFeatures]) -> None:
    for f in feats:
        sils = " ".join(f"{f.sil[4.0, k]:.3f}" for k in range(2, 6))
        dmins = " ".join(f"{f.dmin[4.0, k]:.2f}" for k in range(2, 6))
        ders_k = " ".join(f"{f.der[4.0, k][0] / f.der[4.0, k][1]:.2f}" for k in range(1, 6))
        print(f"  {f.name:28s} true {f.speakers} cut {f.found[0.3, 4.0]} | sil {sils} | dmin {dmins} | DER {ders_k}")


def count_study(items: list[Item], holdout: list[Item], folds: int) -> None:
    started = time.perf_counter()
    params = EmbeddedParams()
    evaluator = Evaluator(items)
    feats = [count_features(evaluator, i, params) for i in range(len(items))]
    print(f"features of {len(items)} files: {time.perf_counter() - started:.0f} s", flush=True)
    configs = count_configs()
    default = configs[0]
    table_of = {repr(c): apply_rule(c, feats) for c in configs}
    fold_of = assign_folds(items, folds)

    print("\nper file at the defaults: found at the cut 0.30 / silhouette per k (2..5) / dmin per k / DER per k")
    print_features(feats)

    names = {i.name for i in items}
    pools = {
        "t 0.30, min cluster 4 s fixed": [c for c in configs if c[1]["t"] == 0.3 and c[1]["m"] == 4.0],
        "t and min cluster searched too": configs,
    }
    finals = {}
    for pool_name, pool in pools.items():
        families = ["all rules", *dict.fromkeys(c[0] for c in pool)]
        print(f"\n## {pool_name}: held out (each fold scored with the choice made on the other folds), frame DER")
        print(count_header(feats))
        print(count_row("before: silhouette to the cut (no choice)", feats, table_of[repr(default)]))
        chosen_by_fold = {}
        for family in families:
            members = family_members(pool, family)
            held, chosen_by_fold[family] = {}, []
            for fold in range(folds):
                train = {i.name for i in items if fold_of[i.name] != fold}
                test = [i.name for i in items if fold_of[i.name] == fold]
                best = choose_config(feats, table_of, members, train)
                chosen_by_fold[family].append(describe_config(best))
                held.update({n: table_of[repr(best)][n] for n in test})
            print(count_row(f"{family} (CV)", feats, held))
        for family in families:
            print(f"  {family}: " + " / ".join(chosen_by_fold[family]))
        print(f"\n## {pool_name}: chosen on the whole set (in-set)")
        print(count_header(feats))
        for family in families:
            members = family_members(pool, family)
            best = choose_config(feats, table_of, members, names)
            finals[pool_name, family] = best
            print(count_row(f"{family}: {describe_config(best)}", feats, table_of[repr(best)]))

    final = finals["t 0.30, min cluster 4 s fixed", "all rules"]
    print(f"\nper file, before → {describe_config(final)} (frame DER, found/true)")
    before, after = table_of[repr(default)], table_of[repr(final)]
    for f in feats:
        b, a = before[f.name], after[f.name]
        mark = "" if b[2] == a[2] else "  *"
        print(f"  {f.name:28s} {b[0] / b[1]:.3f} {b[2]}/{f.speakers} → {a[0] / a[1]:.3f} {a[2]}/{f.speakers}{mark}")

    if holdout:
        hold_eval = Evaluator(holdout)
        hold_feats = [count_features(hold_eval, i, params) for i in range(len(holdout))]
        print("\n## unseen set (not used for any choice): each rule as chosen on the whole dev set, frame DER")
        print(count_header(hold_feats))
        print(count_row(f"before: {describe_config(default)}", hold_feats, apply_rule(default, hold_feats)))
        for (pool_name, family), config in finals.items():
            label = f"{family} [{pool_name}]: {describe_config(config)}"
            print(count_row(label, hold_feats, apply_rule(config, hold_feats)))
        print("\nunseen, per file (as above)")
        print_features(hold_feats)
        hb, ha = apply_rule(default, hold_feats), apply_rule(final, hold_feats)
        print(f"\nunseen, per conversation: before → {describe_config(final)}")
        for f in hold_feats:
            b, a = hb[f.name], ha[f.name]
            print(f"  {f.name:28s} {b[0] / b[1]:.3f} {b[2]}/{f.speakers} → {a[0] / a[1]:.3f} {a[2]}/{f.speakers}")
    verify(evaluator, "dev set")
    if holdout:
        verify(hold_eval, "unseen set")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def verify(evaluator: Evaluator, label: str) -> None:
    """The diarizer itself (turns_from_windows) before (count_above_cut 0) and with the defaults, scored
    by pyannote.metrics: the rule study above emulates the count; this checks the shipped code."""
    before = scores(evaluator, dataclasses.replace(EmbeddedParams(), count_above_cut=0))
    after = scores(evaluator, EmbeddedParams())
    print(f"\n## {label}, pyannote.metrics: count_above_cut 0 (before) vs the defaults ({describe(EmbeddedParams())})")
    for line in table({"before": before, "after": after}):
        print(line)
    print("per file, DER c0.25 no-ovl and found/true, before → after")
    for name in before:
        b, a = before[name], after[name]
        der_b, der_a = (r[0.25, True][0] / max(r[0.25, True][1], 1e-9) for r in (b, a))
        mark = "" if b["found"] == a["found"] else "  *"
        print(f"  {name:28s} {der_b:.3f} {b['found']}/{b['speakers']} → {der_a:.3f} {a['found']}/{a['speakers']}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", type=Path, default=sim.OUT)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--count", action="store_true", help="cross-validate speaker-count rules instead")
    parser.add_argument("--holdout", type=Path, default=None, help="with --count: an unseen set, scored at the end")
    args = parser.parse_args()
    started = time.perf_counter()
    items = load_items(args.sim)
    if args.count:
        if args.holdout and not (args.holdout / "index.json").exists():
            parser.error(f"no set in {args.holdout}: write it with bench/diarization_sim.py --out {args.holdout}")
        count_study(items, load_items(args.holdout, real=False) if args.holdout else [], args.folds)
        return
    fold_of = assign_folds(items, args.folds)
    evaluator = Evaluator(items)
    print(f"{len(items)} files, {sum(i.audio.size for i in items) / 16_000 / 60:.1f} min; {args.folds} folds")

    held_out: dict[str, tuple[float, float, int]] = {}
    print("\n| fold | files | held-out DER c0.25 no-ovl (chosen) | same files, defaults | chosen on the other folds |")
    print("|---|---|---|---|---|")
    for fold in range(args.folds):
        train = [i.name for i in items if fold_of[i.name] != fold]
        test = [i.name for i in items if fold_of[i.name] == fold]
        params = search(evaluator, train, args.passes, log=lambda m: print(m, file=sys.stderr, flush=True))
        results = evaluator.evaluate(params)
        held_out.update({n: results[n] for n in test})
        default_der = pooled(evaluator.evaluate(EmbeddedParams()), test)
        print(f"| {fold} | {len(test)} | {pooled(results, test):.3f} | {default_der:.3f} | {describe(params)} |")
    names = [i.name for i in items]
    sim_names = [i.name for i in items if i.group in ("2", "3", "4")]
    print(
        f"\nheld-out pooled DER (c0.25 no-ovl): all {pooled(held_out, names):.3f}, "
        f"sim 2-4 {pooled(held_out, sim_names):.3f}; "
        f"defaults: all {pooled(evaluator.evaluate(EmbeddedParams()), names):.3f}, "
        f"sim 2-4 {pooled(evaluator.evaluate(EmbeddedParams()), sim_names):.3f}"
    )
    for group in sorted({i.group for i in items}):
        members = [i.name for i in items if i.group == group]
        print(f"  held-out group {group}: {pooled(held_out, members):.3f}")

    final = search(evaluator, names, args.passes, log=print)
    print(f"\nchosen on the whole set: {describe(final)}")
    print(f"configurations evaluated: {len(evaluator.results)}; {time.perf_counter() - started:.0f} s so far\n")
    for line in table({"defaults": scores(evaluator, EmbeddedParams()), "chosen": scores(evaluator, final)}):
        print(line)
    print("\nper file (c0.25 no-ovl frame DER, found/true): defaults → chosen")
    before, after = evaluator.evaluate(EmbeddedParams()), evaluator.evaluate(final)
    for item in items:
        b, a = before[item.name], after[item.name]
        print(f"  {item.name:32s} {b[0] / b[1]:.3f} {b[2]}/{item.speakers} → {a[0] / a[1]:.3f} {a[2]}/{item.speakers}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
