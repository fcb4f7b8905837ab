"""The AS-Norm cohort: embeddings of speakers who are never the ones being verified.

The embedded Resemblyzer model ships `cohorts/resemblyzer.npy`, built from the public clips of
`../shared/data` whose speakers are NOT in the verification trials (see `cohorts/resemblyzer.sources.tsv`
for every clip, its source and licence). Other models need their own cohort, built with:

    python -m services.voice.cohort --audio-dir DIR --output cohort.npy   # then COHORT_PATH=cohort.npy

where DIR holds speech of many speakers (a few seconds each; real human speech: a cohort of synthetic
voices makes AS-Norm worse). The shipped cohort is rebuilt with `--shared-data ../shared/data`.
"""

import argparse
import csv
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.voice.embedding.base import SpeakerEncoder
from services.voice.settings import VoiceSettings
from services.voice.speech import RATE, speech_only

logger = logging.getLogger(__name__)

SHIPPED = Path(__file__).parent / "cohorts"
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus"}
CHUNK_S = 20.0  # one cohort entry per utterance, like the utterances being verified; long recordings are cut
MIN_CHUNK_S = 1.5

# Clips of ../shared/data whose speakers are not in speaker/trials.tsv (all permissive licences, see MANIFEST.tsv).
SHARED_CLIPS = [
    *(f"asr/{name}" for name in ("en_LJ050-0131.wav", "en_jfk.flac", "en_librispeech_1995-1837-0001.wav")),
    "asr/en_one_two_three.wav",
    *(f"asr/sb_spk{s}_snt{n}.wav" for s in (1, 2) for n in (1, 2, 3)),
    "diarization/ami_dev00.wav",  # per speaker, from refs/ami_dev00.rttm
    "diarization/sample.wav",  # per speaker, from refs/sample.rttm
    *(
        f"multilingual/{name}.wav"
        for name in (
            "fr_stp_human_allume_la_lumiere",
            "fr_stp_human_allume_les_lumieres_en_bleu",
            "fr_stp_human_allume_toutes_les_lumieres",
            "fr_stp_human_annuler",
            "fr_stp_human_combien_fait_il",
            "ja_reazon_test_ja_1",
            "ko_sensevoice_test",
            "ru_gigaam_example",
            "zh_aishell_BAC009S0724W0121",
        )
    ),
    *(
        f"spoof/en_stp_human_{name}.wav"
        for name in (
            "activate_Mood_Lighting",
            "cancel_timer",
            "next",
            "set_Bed_Light_brightness_to_50_percent",
            "skip_on_TV",
            "what_is_the_Outdoor_Humidity",
        )
    ),
    "vad_eot/sb_vad_train.wav",
]


@dataclass(frozen=True)
class Source:
    name: str
    speaker: str
    audio: np.ndarray
    license: str = ""


@dataclass(frozen=True)
class CohortEntry:
    source: str
    speaker: str
    seconds: float
    license: str


def shipped_cohort_path(model_id: str) -> Path:
    return SHIPPED / f"{model_id.split('-')[0]}.npy"


def load_cohort(settings: VoiceSettings, encoder: SpeakerEncoder) -> np.ndarray:
    path = settings.cohort_path or shipped_cohort_path(encoder.model_id)
    if not path.is_file():
        raise FileNotFoundError(
            f"no AS-Norm cohort for {encoder.model_id} at {path}: build one with "
            "`python -m services.voice.cohort --audio-dir DIR --output cohort.npy` and set COHORT_PATH"
        )
    cohort = np.load(path)
    if cohort.ndim != 2 or cohort.shape[1] != encoder.dim:
        raise ValueError(f"cohort {path} has shape {cohort.shape}; {encoder.model_id} makes {encoder.dim}-d embeddings")
    return cohort.astype(np.float32)


def read_audio(path: Path) -> np.ndarray:
    from services.common.audio import decode_audio

    return decode_audio(path.read_bytes(), sample_rate=RATE, max_duration_s=3600)


def speaker_turns(rttm: Path) -> dict[str, list[tuple[float, float]]]:
    turns: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in rttm.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns[fields[7]].append((start, start + duration))
    return turns


def chunks(speech: np.ndarray) -> list[np.ndarray]:
    size = int(CHUNK_S * RATE)
    pieces = [speech[i : i + size] for i in range(0, speech.size, size)]
    return [p for p in pieces if p.size >= MIN_CHUNK_S * RATE] or ([speech] if speech.size else [])


def shared_sources(data: Path) -> list[Source]:
    """Every speaker of every cohort clip in ../shared/data, with the clip's licence from MANIFEST.tsv."""
    with (data / "MANIFEST.tsv").open() as manifest:
        licenses = {row["local_path"]: row["license"] for row in csv.DictReader(manifest, delimiter="\t")}
    sources = []
    for relative in SHARED_CLIPS:
        audio = read_audio(data / relative)
        rttm = data / "diarization" / "refs" / f"{Path(relative).stem}.rttm"
        if rttm.is_file():
            for speaker, spans in speaker_turns(rttm).items():
                joined = np.concatenate([audio[int(a * RATE) : int(b * RATE)] for a, b in spans])
                sources.append(Source(relative, speaker, joined, licenses[relative]))
        else:
            sources.append(Source(relative, Path(relative).stem, audio, licenses[relative]))
    return sources


def directory_sources(directory: Path) -> list[Source]:
    """Every audio file under `directory`; a file's speaker is its folder's name."""
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SystemExit(f"no audio files under {directory}")
    return [Source(str(p.relative_to(directory)), p.parent.name, read_audio(p)) for p in files]


def build(encoder: SpeakerEncoder, sources: list[Source]) -> tuple[np.ndarray, list[CohortEntry]]:
    embeddings, entries = [], []
    for source in sources:
        for piece in chunks(speech_only(source.audio)):
            embeddings.append(encoder.embed(piece))
            entries.append(CohortEntry(source.name, source.speaker, round(piece.size / RATE, 2), source.license))
    if not embeddings:
        raise SystemExit("no speech found in the cohort audio")
    return np.stack(embeddings).astype(np.float32), entries


def main(argv: list[str] | None = None) -> int:
    from services.voice.embedding.loader import load_encoder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--audio-dir", type=Path, help="directory of cohort speech (any audio format)")
    group.add_argument("--shared-data", type=Path, help="rebuild the shipped cohort from ../shared/data")
    parser.add_argument("--output", type=Path, required=True, help=".npy file to write (plus .sources.tsv)")
    parser.add_argument("--speaker-model", help="SPEAKER_MODEL to embed with (default: the configured one)")
    args = parser.parse_args(argv)

    settings = VoiceSettings(**({"speaker_model": args.speaker_model} if args.speaker_model else {}))
    encoder = load_encoder(settings)
    sources = shared_sources(args.shared_data) if args.shared_data else directory_sources(args.audio_dir)
    cohort, entries = build(encoder, sources)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.output, cohort)
    with args.output.with_suffix(".sources.tsv").open("w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["row", "source", "speaker", "speech_s", "license", "model"])
        for row, entry in enumerate(entries):
            writer.writerow([row, entry.source, entry.speaker, entry.seconds, entry.license, encoder.model_id])
    speakers = len({(e.source, e.speaker) for e in entries})
    print(f"{args.output}: {cohort.shape[0]} embeddings of {speakers} speaker sources, model {encoder.model_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
