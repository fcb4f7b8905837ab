"""File transcription on a shared Whisper model: sequential for short audio, VAD-chunked and
batched for long audio, with timestamps on the original timeline. Runs on a worker thread."""

from dataclasses import dataclass

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment as WhisperSegment
from faster_whisper.vad import VadOptions, get_speech_timestamps

from services.asr.settings import AsrSettings

SAMPLE_RATE = 16_000
# Silero VAD options for files: keep short pauses inside a chunk, pad speech edges.
FILE_VAD = VadOptions(threshold=0.5, min_silence_duration_ms=1000, speech_pad_ms=300, max_speech_duration_s=30)


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float


@dataclass
class Transcription:
    text: str
    segments: list[Segment]
    duration: float
    language: str | None
    language_probability: float | None
    batched: bool


class Transcriber:
    """Owns the decoding policy; `transcribe` is blocking and must run off the event loop."""

    def __init__(self, model: WhisperModel, settings: AsrSettings) -> None:
        self.model = model
        self.settings = settings
        self.batched_pipeline = BatchedInferencePipeline(model)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.model.supported_languages)

    def has_speech(self, audio: np.ndarray) -> bool:
        return bool(get_speech_timestamps(audio, FILE_VAD))

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        duration = round(audio.size / SAMPLE_RATE, 3)
        if not self.has_speech(audio):
            # No voiced audio: nothing to decode, and nothing for Whisper to hallucinate.
            return Transcription("", [], duration, language, None, batched=False)
        s = self.settings
        common = dict(
            language=language,
            beam_size=s.asr_beam_size,
            vad_filter=True,
            vad_parameters=FILE_VAD,
            no_speech_threshold=s.asr_no_speech_threshold,
            log_prob_threshold=s.asr_log_prob_threshold,
        )
        batched = duration > s.asr_batched_min_duration_s
        if batched:
            segments, info = self.batched_pipeline.transcribe(
                audio, batch_size=s.asr_batch_size, without_timestamps=False, **common
            )
        else:
            segments, info = self.model.transcribe(audio, condition_on_previous_text=False, **common)
        # Consume the generator here, on the worker thread: decoding happens while iterating.
        voiced = [seg for seg in segments if not self._is_silence(seg)]
        kept = [self._to_segment(index, seg) for index, seg in enumerate(voiced)]
        # Whisper puts the word separator at the start of a segment (none for zh/ja): keep it.
        text = "".join(seg.text for seg in voiced).strip()
        return Transcription(
            text=text,
            segments=kept,
            duration=duration,
            language=info.language,
            language_probability=round(info.language_probability, 4),
            batched=batched,
        )

    def _is_silence(self, seg: WhisperSegment) -> bool:
        s = self.settings
        return (
            seg.no_speech_prob > s.asr_no_speech_threshold and seg.avg_logprob < s.asr_log_prob_threshold
        ) or not seg.text.strip()

    @staticmethod
    def _to_segment(index: int, seg: WhisperSegment) -> Segment:
        return Segment(
            id=index,
            start=round(seg.start, 3),
            end=round(seg.end, 3),
            text=seg.text.strip(),
            tokens=list(seg.tokens),
            avg_logprob=round(seg.avg_logprob, 4),
            no_speech_prob=round(seg.no_speech_prob, 4),
        )
