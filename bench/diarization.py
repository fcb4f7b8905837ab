"""Diarization quality and speed on the shared RTTM references.

Usage: .venv/bin/python bench/diarization.py [--url http://127.0.0.1:8124 | --in-process-only]

For each file: DER at collar 0 and 0.25 s (overlap scored, and with overlapped regions skipped),
speaker-count error and CPU RTF of the embedded diarizer in this process; then the same DER for
the word-bounded dialogues that POST /transcribe-with-property returns (fleet started unless
--url is given), with that endpoint's processing time (Whisper with word timestamps included).
--in-process-only stops after the first table. Parameters are chosen by bench/diarization_cv.py on
simulated conversations (bench/diarization_sim.py) plus these two files.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import httpx
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from services.asr.diarization.base import SpeakerCount
from services.asr.diarization.embedded import EmbeddedDiarizer
from services.common.audio import decode_audio

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data")) / "diarization"
FILES = ["sample", "ami_dev00"]


def reference(name: str) -> Annotation:
    annotation = Annotation(uri=name)
    for line in (DATA / "refs" / f"{name}.rttm").read_text().splitlines():
        fields = line.split()
        annotation[Segment(float(fields[3]), float(fields[3]) + float(fields[4]))] = fields[7]
    return annotation


def ders(ref: Annotation, hyp: Annotation) -> str:
    values = [
        DiarizationErrorRate(collar=collar, skip_overlap=skip)(ref, hyp)
        for collar in (0.0, 0.25)
        for skip in (False, True)
    ]
    return " | ".join(f"{v:.3f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="use a running gateway instead of starting one")
    parser.add_argument("--in-process-only", action="store_true", help="skip the endpoint (no fleet)")
    args = parser.parse_args()
    diarizer = EmbeddedDiarizer("cpu")
    header = "| DER c0 | DER c0 no-ovl | DER c0.25 | DER c0.25 no-ovl |"
    print(f"embedded diarizer (in process), cores={os.cpu_count()}")
    print(f"| file | ref spk | found | {header[2:]} RTF |")
    print("|---|---|---|---|---|---|---|---|")
    for name in FILES:
        audio = decode_audio((DATA / f"{name}.wav").read_bytes(), max_duration_s=3600)
        start = time.perf_counter()
        turns = diarizer.diarize(audio, SpeakerCount())
        rtf = (time.perf_counter() - start) / (audio.size / 16_000)
        hyp = Annotation()
        for i, turn in enumerate(turns):
            hyp[Segment(turn.start, turn.end), i] = turn.speaker
        ref = reference(name)
        print(f"| {name} | {len(ref.labels())} | {len(hyp.labels())} | {ders(ref, hyp)} | {rtf:.3f} |")
    if args.in_process_only:
        return

    print("\nPOST /transcribe-with-property dialogues (word-bounded turns)")
    print(f"| file | found | {header[2:]} processing s |")
    print("|---|---|---|---|---|---|---|")
    with running_fleet(args.url) as url, httpx.Client(base_url=url, timeout=300) as client:
        for name in FILES:
            body = client.post(
                "/transcribe-with-property", files={"file": (f"{name}.wav", (DATA / f"{name}.wav").read_bytes())}
            ).json()
            hyp = Annotation()
            for i, turn in enumerate(body["dialogues"]):
                hyp[Segment(turn["start"], turn["end"]), i] = turn["speaker"]
            print(f"| {name} | {body['num_speakers']} | {ders(reference(name), hyp)} | {body['processing_time']:.2f} |")


if __name__ == "__main__":
    main()
