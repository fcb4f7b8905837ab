"""Embedded diarization that runs offline on CPU: Silero VAD → 1.6 s Resemblyzer windows →
average-linkage clustering on cosine distance → small clusters absorbed → frame labels →
same-speaker gaps filled. Resemblyzer's weights ship inside its wheel."""

from dataclasses import dataclass, field

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from scipy.cluster.hierarchy import fcluster, linkage

from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance

RATE = 16_000
FRAME = 160  # 10 ms labelling resolution
EMBED_BATCH = 64  # windows forwarded at once: memory stays bounded whatever the length
MEL_CHUNK_FRAMES = 6000  # 60 s of mel frames computed at once


@dataclass(frozen=True)
class EmbeddedParams:
    """Chosen by 4-fold cross-validation on 40 simulated conversations (1-4 speakers) and the two
    annotated files, on DER averaged over those groups (bench/diarization_cv.py)."""

    vad: VadOptions = field(
        default_factory=lambda: VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=200)
    )
    hop_s: float = 0.5  # between 1.6 s embedding windows
    distance_threshold: float = 0.3  # AHC cut on cosine distance when the count is not given
    min_cluster_s: float = 4.0  # smaller clusters are absorbed by the nearest big one
    # Same-speaker segments closer than this are joined. Short: longer fills label pauses as speech
    # (2.0 s gave DER 0.150 → 0.5 s 0.093 on the simulated set, and 0.175 → 0.090 on ami_dev00).
    fill_gap_s: float = 0.5
    # Share of a window that must be speech to be used: 0.3 keeps windows at turn edges, so short
    # turns still get embeddings.
    min_window_speech: float = 0.3
    # The silhouette may pick one speaker more than the big clusters at the cut (never when the cut
    # leaves one): the cut merges two of three speakers in babble noise. Cross-validated against 0 and 2
    # and against other count rules (bench/diarization_cv.py --count).
    count_above_cut: int = 1


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
        partials, slices = self.embed(audio)
        return turns_from_windows(audio.size, speech, partials, slices, count, self.params)

    def embed(self, audio: np.ndarray) -> tuple[np.ndarray, list[slice]]:
        """A Resemblyzer embedding per 1.6 s window, every `hop_s`, over the whole file: what
        `embed_utterance(return_partials=True)` computes, with the windows forwarded EMBED_BATCH at a
        time (all at once, an 8-minute file took 0.6 GB more, growing with the length)."""
        import torch
        from resemblyzer.audio import normalize_volume

        wav = normalize_volume(audio, -30, increase_only=True)
        wav_slices, mel_slices = self.encoder.compute_partial_slices(len(wav), 1 / self.params.hop_s, 0.5)
        if wav_slices[-1].stop >= len(wav):
            wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
        mel = mel_spectrogram(wav)
        partials = []
        with torch.no_grad():
            for start in range(0, len(mel_slices), EMBED_BATCH):
                batch = np.array([mel[s] for s in mel_slices[start : start + EMBED_BATCH]])
                partials.append(self.encoder(torch.from_numpy(batch).to(self.encoder.device)).cpu().numpy())
        return np.concatenate(partials), wav_slices


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Resemblyzer's `wav_to_mel_spectrogram` (frames × 40 mels), computed MEL_CHUNK_FRAMES frames at a
    time: at once, its STFT of an hour held gigabytes. Frame t covers the zero-padded wave's samples
    [t·hop, t·hop + n_fft), as librosa's centred frames do, so the chunks join into the same frames."""
    import librosa
    from resemblyzer import hparams

    n_fft = int(hparams.sampling_rate * hparams.mel_window_length / 1000)
    hop = int(hparams.sampling_rate * hparams.mel_window_step / 1000)
    padded = np.pad(wav, n_fft // 2)
    frames = 1 + (padded.size - n_fft) // hop
    chunks = []
    for first in range(0, frames, MEL_CHUNK_FRAMES):
        last = min(first + MEL_CHUNK_FRAMES, frames)
        mel = librosa.feature.melspectrogram(
            y=padded[first * hop : (last - 1) * hop + n_fft],
            sr=hparams.sampling_rate,
            n_fft=n_fft,
            hop_length=hop,
            n_mels=hparams.mel_n_channels,
            center=False,
        )
        chunks.append(mel.astype(np.float32).T)
    return np.concatenate(chunks)


def turns_from_windows(
    samples: int,
    speech: list[dict[str, int]],
    partials: np.ndarray,
    slices: list[slice],
    count: SpeakerCount,
    params: EmbeddedParams,
) -> list[SpeakerTurn]:
    """Turns from the VAD regions and the embedding of every window (`EmbeddedDiarizer.embed`);
    apart so that a parameter search can reuse both."""
    is_speech = speech_mask(samples, speech)
    keep = [
        i
        for i, sl in enumerate(slices)
        if sl.start < samples
        and is_speech[sl.start // FRAME : min(sl.stop, samples) // FRAME + 1].mean() >= params.min_window_speech
    ]
    if len(keep) < 2:
        return [SpeakerTurn(s["start"] / RATE, s["end"] / RATE, 0) for s in speech]
    embeddings = partials[keep]
    centers = np.array([(slices[i].start + min(slices[i].stop, samples)) / 2 / RATE for i in keep])
    min_windows = max(1, round(params.min_cluster_s / params.hop_s))
    labels = cluster(embeddings, count, params.distance_threshold, min_windows, params.count_above_cut)
    turns = label_speech(samples, speech, centers, labels, params.fill_gap_s)
    return renumber_by_first_appearance(turns)


def speech_mask(samples: int, speech: list[dict[str, int]]) -> np.ndarray:
    mask = np.zeros(samples // FRAME + 1, bool)
    for seg in speech:
        mask[seg["start"] // FRAME : seg["end"] // FRAME] = True
    return mask


def cluster(
    embeddings: np.ndarray, count: SpeakerCount, threshold: float, min_windows: int, above_cut: int = 0
) -> np.ndarray:
    """0-based labels from average-linkage AHC on cosine distance.

    The speaker count is `count.exact` when given. Otherwise the distance cut at `threshold`
    says how many clusters have at least `min_windows` windows; at most one means one speaker,
    else the count in [2, that number + `above_cut`] (within [minimum, maximum]) with the best
    silhouette wins. Cross-validated against a plain count at the cut, the cut unless the silhouette
    is clearly better, a silhouette prior per speaker, silhouettes of the kept clusters only, centroid
    distance tests, eigengaps and dendrogram gaps (bench/diarization_cv.py, docs/BENCHMARKS.md)."""
    tree = linkage(embeddings, method="average", metric="cosine")
    target = count.exact
    if target is None:
        found = len(big_clusters(fcluster(tree, t=threshold, criterion="distance") - 1, min_windows))
        high = min(max(found + (above_cut if found >= 2 else 0), count.minimum), count.maximum)
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
    """Mean silhouette on cosine distance (singletons score 0, as in scikit-learn), in numpy: the
    search over counts calls it often and scikit-learn's overhead is 30 ms a call."""
    values = np.unique(labels)
    if values.size < 2:
        return -1.0
    distance = 1.0 - embeddings @ embeddings.T
    members = labels[None, :] == values[:, None]
    sizes = members.sum(axis=1)
    sums = distance @ members.T  # window × cluster: summed distance to the cluster's windows
    own = np.searchsorted(values, labels)
    own_size = sizes[own]
    a = sums[np.arange(len(labels)), own] / np.maximum(own_size - 1, 1)
    others = sums / sizes[None, :]
    others[np.arange(len(labels)), own] = np.inf
    b = others.min(axis=1)
    score = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(score.mean())


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


def nearest_center(times: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """For each time, the index of the nearest of the (increasing) `centers`, the earlier on a tie: the
    argmin of |times - centers| without its frames × windows matrix (gigabytes for an hour)."""
    right = np.clip(np.searchsorted(centers, times), 1, centers.size - 1)
    left = right - 1
    return np.where(times - centers[left] <= centers[right] - times, left, right)


def label_speech(
    samples: int, speech: list[dict[str, int]], centers: np.ndarray, labels: np.ndarray, fill_gap_s: float
) -> list[SpeakerTurn]:
    """Each 10 ms speech frame takes the label of the nearest window centre; runs become turns,
    and same-speaker turns separated by less than `fill_gap_s` are joined."""
    mask = speech_mask(samples, speech)
    frames = np.flatnonzero(mask)
    times = frames * FRAME / RATE
    nearest = nearest_center(times, centers)
    frame_labels = np.full(mask.size, -1)
    frame_labels[frames] = labels[nearest]
    changes = np.flatnonzero(np.diff(frame_labels)) + 1
    turns: list[SpeakerTurn] = []
    for first, stop in zip([0, *changes], [*changes, frame_labels.size], strict=True):
        label = int(frame_labels[first])
        if label < 0:
            continue
        start, end = first * FRAME / RATE, stop * FRAME / RATE
        if turns and turns[-1].speaker == label and start - turns[-1].end <= fill_gap_s:
            turns[-1] = SpeakerTurn(turns[-1].start, end, label)
        else:
            turns.append(SpeakerTurn(start, end, label))
    return turns
