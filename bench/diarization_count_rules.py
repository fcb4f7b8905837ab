"""Speaker-count rules for bench/diarization_count.py: which k to cut the tree at, with everything else at the
defaults. Every rule only picks k; the partition for a given k is the diarizer's own `split`, so the DER of each
k is computed once per file (`count_features`) and a rule costs a table look-up."""

import math
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from bench.diarization_eval import Evaluator, frame_der
from services.asr.diarization.base import renumber_by_first_appearance
from services.asr.diarization.embedded import (
    FRAME,
    EmbeddedParams,
    absorb,
    big_clusters,
    label_speech,
    silhouette,
    speech_mask,
    split,
)

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
