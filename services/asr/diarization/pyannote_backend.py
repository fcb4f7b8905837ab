"""pyannote.audio pipelines (GPU images): a local pipeline directory or a Hugging Face id.

pyannote.audio needs torchaudio, which is not in the default install; it is imported only when
DIARIZATION_MODEL names a pipeline, and a failure to import or load is reported at start-up.
"""

import inspect

import numpy as np

from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance


class PyannoteDiarizer:
    def __init__(self, model: str, token: str | None, device: str) -> None:
        try:
            import torch
            from pyannote.audio import Pipeline
        except ImportError as exc:
            raise RuntimeError(
                f"DIARIZATION_MODEL={model!r} needs pyannote.audio, which is not installed "
                "(pip install 'voicefleet[pyannote]' on an image with torchaudio)"
            ) from exc
        # pyannote.audio 4 takes `token`, 3.x `use_auth_token`.
        auth = "token" if "token" in inspect.signature(Pipeline.from_pretrained).parameters else "use_auth_token"
        pipeline = Pipeline.from_pretrained(model, **{auth: token})
        if pipeline is None:  # pyannote returns None for gated models without a token
            raise RuntimeError(f"could not load pyannote pipeline {model!r}: accept its terms and set HF_TOKEN")
        if device == "cuda":
            pipeline.to(torch.device("cuda"))
        self._torch = torch
        self._pipeline = pipeline
        self.name = f"pyannote:{model}"

    def diarize(self, audio: np.ndarray, count: SpeakerCount) -> list[SpeakerTurn]:
        waveform = self._torch.from_numpy(audio).unsqueeze(0)
        options = (
            {"num_speakers": count.exact}
            if count.exact
            else {"min_speakers": count.minimum, "max_speakers": count.maximum}
        )
        output = self._pipeline({"waveform": waveform, "sample_rate": 16_000}, **options)
        # pyannote.audio 4 wraps the annotation; 3.x returns it directly.
        annotation = getattr(output, "speaker_diarization", output)
        labels: dict[str, int] = {}
        turns = [
            SpeakerTurn(segment.start, segment.end, labels.setdefault(label, len(labels)))
            for segment, _, label in annotation.itertracks(yield_label=True)
        ]
        return renumber_by_first_appearance(turns)
