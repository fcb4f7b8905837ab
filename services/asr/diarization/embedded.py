"""Embedded diarization that runs offline on CPU: Silero VAD → 1.6 s Resemblyzer windows →
average-linkage clustering on cosine distance → small clusters absorbed → frame labels →
same-speaker gaps filled. Resemblyzer's weights ship inside its wheel."""

import itertools
from dataclasses import dataclass, field

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score

from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance

RATE = 16_000
FRAME = 160  # 10 ms labelling resolution


@dataclass(frozen=True)
class EmbeddedParams:
    vad: VadOptions = field(
        default_factory=lambda: VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=200)
    )
    hop_s: float = 0.5  # between 1.6 s embedding windows
    distance_threshold: float = 0.3  # AHC cut on cosine distance when the count is not given
    min_cluster_s: float = 4.0  # smaller clusters are absorbed by the nearest big one
    fill_gap_s: float = 2.0  # same-speaker segments closer than this are joined
    min_window_speech: float = 0.5  # share of a window that must be speech to be used


class EmbeddedDiarizer:
    name = "embedded:resemblyzer"

    def __init__(self, device: str = "cpu", params: EmbeddedParams | None = None) -> None:
        from resemblyzer import VoiceEncoder

        self.params = params or EmbeddedParams()
        self.encoder = VoiceEncoder(device, verbose=False)
        self.encoder.embed_utterance(np.random.default_rng(0).normal(0, 0.05, 2 * RATE).astype(np.float32))

    def diarize(self, audio: np.ndarray, count: SpeakerCount) -> list[SpeakerTurn]:
        speech = get_speech_timestamps(audio, self.params.vad)
        if not speech:
            return []
        embeddings, centers = self._embed_windows(audio, speech)
        if len(embeddings) < 2:
            return [SpeakerTurn(s["start"] / RATE, s["end"] / RATE, 0) for s in speech]
        min_windows = max(1, round(self.params.min_cluster_s / self.params.hop_s))
        labels = cluster(embeddings, count, self.params.distance_threshold, min_windows)
        turns = label_speech(audio.size, speech, centers, labels, self.params.fill_gap_s)
        return renumber_by_first_appearance(turns)

    def _embed_windows(self, audio: np.ndarray, speech: list[dict[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        from resemblyzer.audio import normalize_volume

        wav = normalize_volume(audio, -30, increase_only=True)
        _, partials, slices = self.encoder.embed_utterance(
            wav, return_partials=True, rate=1 / self.params.hop_s, min_coverage=0.5
        )
        is_speech = speech_mask(audio.size, speech)
        keep = [
            i
            for i, sl in enumerate(slices)
            if sl.start < audio.size
            and is_speech[sl.start // FRAME : min(sl.stop, audio.size) // FRAME + 1].mean()
            >= self.params.min_window_speech
        ]
        centers = np.array([(slices[i].start + min(slices[i].stop, audio.size)) / 2 / RATE for i in keep])
        return partials[keep], centers


def speech_mask(samples: int, speech: list[dict[str, int]]) -> np.ndarray:
    mask = np.zeros(samples // FRAME + 1, bool)
    for seg in speech:
        mask[seg["start"] // FRAME : seg["end"] // FRAME] = True
    return mask


def cluster(embeddings: np.ndarray, count: SpeakerCount, threshold: float, min_windows: int) -> np.ndarray:
    """0-based labels from average-linkage AHC on cosine distance.

    The speaker count is `count.exact` when given. Otherwise the distance cut at `threshold`
    says how many clusters have at least `min_windows` windows; at most one means one speaker,
    else the count in [2, that number] (within [minimum, maximum]) with the best silhouette wins.
    Measured on the shared files in docs/BENCHMARKS.md."""
    tree = linkage(embeddings, method="average", metric="cosine")
    target = count.exact
    if target is None:
        found = len(big_clusters(fcluster(tree, t=threshold, criterion="distance") - 1, min_windows))
        high = min(max(found, count.minimum), count.maximum)
        low = max(2, count.minimum)
        if high < 2:
            target = 1
        else:
            candidates = {k: split(tree, embeddings, k, min_windows) for k in range(low, high + 1)}
            target = max(candidates, key=lambda k: silhouette(embeddings, candidates[k]))
            return candidates[target]
    return split(tree, embeddings, target, min_windows)


def split(tree: np.ndarray, embeddings: np.ndarray, speakers: int, min_windows: int) -> np.ndarray:
    """Cut the tree deeper until `speakers` clusters are big enough (outliers do not count),
    keep those, and give every other window to the nearest kept centroid."""
    speakers = min(speakers, len(embeddings))
    if speakers <= 1:
        return np.zeros(len(embeddings), int)
    labels = np.zeros(len(embeddings), int)
    for cut in range(speakers, len(embeddings) + 1):
        labels = fcluster(tree, t=cut, criterion="maxclust") - 1
        big = big_clusters(labels, min_windows)
        if len(big) >= speakers:
            return absorb(embeddings, labels, big[:speakers])
    return absorb(embeddings, labels, big_clusters(labels, 1)[:speakers])


def silhouette(embeddings: np.ndarray, labels: np.ndarray) -> float:
    if len(set(labels)) < 2:
        return -1.0
    return float(silhouette_score(embeddings, labels, metric="cosine"))


def big_clusters(labels: np.ndarray, min_windows: int) -> list[int]:
    """Labels with at least `min_windows` members, largest first."""
    values, sizes = np.unique(labels, return_counts=True)
    order = np.argsort(-sizes, kind="stable")
    return [int(values[i]) for i in order if sizes[i] >= min_windows]


def absorb(embeddings: np.ndarray, labels: np.ndarray, keep: list[int]) -> np.ndarray:
    """Relabel every window outside `keep` with the kept cluster whose centroid is closest."""
    centroids = {label: embeddings[labels == label].mean(axis=0) for label in keep}
    for label in centroids:
        centroids[label] /= np.linalg.norm(centroids[label])
    out = labels.copy()
    for i, label in enumerate(labels):
        if label not in centroids:
            out[i] = max(centroids, key=lambda c: float(embeddings[i] @ centroids[c]))
    return out


def label_speech(
    samples: int, speech: list[dict[str, int]], centers: np.ndarray, labels: np.ndarray, fill_gap_s: float
) -> list[SpeakerTurn]:
    """Each 10 ms speech frame takes the label of the nearest window centre; runs become turns,
    and same-speaker turns separated by less than `fill_gap_s` are joined."""
    mask = speech_mask(samples, speech)
    frames = np.flatnonzero(mask)
    times = frames * FRAME / RATE
    nearest = np.abs(times[:, None] - centers[None, :]).argmin(axis=1)
    frame_labels = np.full(mask.size, -1)
    frame_labels[frames] = labels[nearest]
    turns: list[SpeakerTurn] = []
    for label, run in itertools.groupby(enumerate(frame_labels), key=lambda item: item[1]):
        if label < 0:
            continue
        run = list(run)
        start, end = run[0][0] * FRAME / RATE, (run[-1][0] + 1) * FRAME / RATE
        if turns and turns[-1].speaker == label and start - turns[-1].end <= fill_gap_s:
            turns[-1] = SpeakerTurn(turns[-1].start, end, int(label))
        else:
            turns.append(SpeakerTurn(start, end, int(label)))
    return turns
