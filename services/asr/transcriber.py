"""File transcription on a shared Whisper model: sequential for short audio, VAD-chunked and
batched for long audio, with timestamps on the original timeline. Runs on a worker thread."""

import itertools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment as WhisperSegment
from faster_whisper.vad import VadOptions, get_speech_timestamps

from services.asr.dialogues import Word
from services.asr.language_id import LanguageRun, detect_padded, language_runs, sure_language
from services.asr.levels import level_up
from services.asr.settings import AsrSettings
from services.asr.short_context import TurnContext, decode_short_context

SAMPLE_RATE = 16_000
CLIP_SECONDS = 30.0  # Whisper's window: the longest clip decoded in one pass
# Silero VAD options for files: segments cut at pauses of 300 ms, where a language may change.
FILE_VAD = VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=300, max_speech_duration_s=CLIP_SECONDS)
# For long files: finer cuts, so clips can be packed close to 30 s.
LONG_FILE_VAD = VadOptions(
    threshold=0.5, min_silence_duration_ms=160, speech_pad_ms=200, max_speech_duration_s=CLIP_SECONDS
)


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    language: str  # given, or detected for this segment
    words: list[Word] = field(default_factory=list)  # only when word timestamps are asked for


@dataclass
class Transcription:
    text: str
    segments: list[Segment]
    duration: float
    language: str | None
    language_probability: float | None
    batched: bool


@dataclass(frozen=True)
class UtteranceText:
    text: str
    language: str | None
    language_probability: float | None


class Transcriber:
    """Owns the decoding policy; `transcribe` is blocking and must run off the event loop."""

    def __init__(self, model: WhisperModel, settings: AsrSettings) -> None:
        self.model = model
        self.settings = settings
        self.batched_pipeline = BatchedInferencePipeline(model)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.model.supported_languages)

    def transcribe(self, audio: np.ndarray, language: str | None, *, words: bool = False) -> Transcription:
        duration = round(audio.size / SAMPLE_RATE, 3)
        if duration > self.settings.asr_batched_min_duration_s:
            return self._transcribe_long(audio, language, duration, words)
        speech = get_speech_timestamps(audio, FILE_VAD)
        if not speech:
            # No voiced audio: nothing to decode, and nothing for Whisper to hallucinate.
            return Transcription("", [], duration, language, None, batched=False)
        runs, main, probability = language_runs(self.model, audio, speech, language)
        decoded: list[tuple[WhisperSegment, str]] = []
        for run, (start, end) in zip(runs, run_spans(runs, audio.size), strict=True):
            # The original audio with its pauses, as the raw engine decodes it: cutting pauses out
            # changes what Whisper hears (and the window is padded to 30 s anyway).
            segments, _ = self.model.transcribe(
                audio,
                clip_timestamps=[start / SAMPLE_RATE, end / SAMPLE_RATE],
                condition_on_previous_text=False,
                vad_filter=False,
                word_timestamps=words,
                **self._decode_options(run.language),
            )
            decoded += [(seg, run.language) for seg in segments]
        return self._collect(decoded, duration, main, probability, batched=False)

    def transcribe_utterance(
        self, audio: np.ndarray, language: str | None, context: TurnContext | None = None
    ) -> UtteranceText:
        """Decode one streamed turn (already cut by VAD): short context first, full window as
        the fallback. `context` is what came just before, so that a turn cut short by a pause is
        read in its sentence (see services/asr/short_context.py)."""
        s = self.settings
        lead_s = 0.0 if context is None else context.lead().size / SAMPLE_RATE
        if (
            s.asr_stream_context_pad_s > 0
            and lead_s + audio.size / SAMPLE_RATE + s.asr_stream_context_pad_s < CLIP_SECONDS
        ):
            short = decode_short_context(
                self.model,
                audio,
                language,
                pad_s=s.asr_stream_context_pad_s,
                beam_size=s.asr_stream_beam_size,
                context=context,
            )
            if short is not None:
                silent = (
                    short.no_speech_prob > s.asr_no_speech_threshold and short.avg_logprob < s.asr_log_prob_threshold
                )
                rounded = None if short.language_probability is None else round(short.language_probability, 4)
                return UtteranceText("" if silent else short.text, short.language, rounded)
        raised = level_up(audio)
        detected: float | None = None  # stays None when the language was given
        if language is None:
            probabilities = detect_padded(self.model, raised)
            recent = context.language if context is not None else None
            language = sure_language(probabilities, recent) if recent else max(probabilities, key=probabilities.get)
            detected = round(probabilities[language], 4)
        # The previous turn's text is a prompt only in its own language (see decode_short_context).
        same_language = context is not None and context.language in (None, language)
        prompt = (context.text if same_language else None) or None
        segments, info = self.model.transcribe(
            raised,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=prompt,
            **{**self._decode_options(language), "beam_size": s.asr_stream_beam_size},
        )
        voiced = [seg for seg in segments if not self._is_silence(seg)]
        return UtteranceText("".join(seg.text for seg in voiced).strip(), info.language, detected)

    def _transcribe_long(self, audio: np.ndarray, language: str | None, duration: float, words: bool) -> Transcription:
        """VAD once, find each stretch's language, pack speech into clips of at most 30 s within
        a language, and decode the clips batched, split across the model's workers. Timestamps
        stay on the original timeline."""
        max_samples = int(CLIP_SECONDS * SAMPLE_RATE)
        # Pauses under ~0.4 s (padded segments that touch) do not change the language.
        speech = pack_clips(get_speech_timestamps(audio, LONG_FILE_VAD), max_samples, max_gap=0)
        if not speech:
            return Transcription("", [], duration, language, None, batched=True)
        runs, main, probability = language_runs(self.model, audio, speech, language)
        jobs = [
            (run.language, group)
            for run in runs
            for group in split_contiguous(pack_clips(run.speech, max_samples), self.settings.asr_workers)
        ]

        def decode(job: tuple[str, list[dict[str, int]]]) -> list[tuple[WhisperSegment, str]]:
            code, group = job
            seconds = [{k: v / SAMPLE_RATE for k, v in clip.items()} for clip in group]
            segments, _ = self.batched_pipeline.transcribe(
                audio,
                clip_timestamps=seconds,
                batch_size=self.settings.asr_batch_size,
                # Timestamp tokens cost accuracy here (5-minute file: WER 0.080 with, 0.036
                # without); a segment is then one VAD-packed clip, and words keep their times.
                without_timestamps=True,
                word_timestamps=words,
                **self._decode_options(code),
            )
            return [(seg, code) for seg in segments]

        with ThreadPoolExecutor(min(len(jobs), self.settings.asr_workers), thread_name_prefix="asr-long") as executor:
            decoded = [seg for part in executor.map(decode, jobs) for seg in part]
        return self._collect(decoded, duration, main, probability, batched=True)

    def _decode_options(self, language: str | None) -> dict[str, object]:
        s = self.settings
        return {
            "language": language,
            "beam_size": s.asr_beam_size,
            "no_speech_threshold": s.asr_no_speech_threshold,
            "log_prob_threshold": s.asr_log_prob_threshold,
        }

    def _collect(
        self,
        segments: Iterable[tuple[WhisperSegment, str]],
        duration: float,
        language: str | None,
        probability: float | None,
        *,
        batched: bool,
    ) -> Transcription:
        # Consume the generator here, on the worker thread: decoding happens while iterating.
        voiced = [(seg, code) for seg, code in segments if not self._is_silence(seg)]
        kept = [self._to_segment(index, seg, code) for index, (seg, code) in enumerate(voiced)]
        text = join_texts([(seg.text, code) for seg, code in voiced])
        return Transcription(
            text=text,
            segments=kept,
            duration=duration,
            language=language,
            language_probability=None if probability is None else round(probability, 4),
            batched=batched,
        )

    def _is_silence(self, seg: WhisperSegment) -> bool:
        s = self.settings
        return (
            seg.no_speech_prob > s.asr_no_speech_threshold and seg.avg_logprob < s.asr_log_prob_threshold
        ) or not seg.text.strip()

    @staticmethod
    def _to_segment(index: int, seg: WhisperSegment, language: str) -> Segment:
        return Segment(
            id=index,
            language=language,
            start=round(seg.start, 3),
            end=round(seg.end, 3),
            text=seg.text.strip(),
            tokens=list(seg.tokens),
            avg_logprob=round(seg.avg_logprob, 4),
            no_speech_prob=round(seg.no_speech_prob, 4),
            words=[Word(w.word, round(w.start, 3), round(w.end, 3)) for w in seg.words or ()],
        )


UNSPACED_LANGUAGES = frozenset({"zh", "ja", "yue", "th", "lo", "my", "bo"})  # written without spaces between words


def join_texts(pieces: list[tuple[str, str]]) -> str:
    """Segment texts (with their languages) as one transcript. Whisper puts the word separator at
    the start of a segment (none for zh/ja): keep it, and add one where a spaced language meets
    another language."""
    text, previous = "", None
    for piece, code in pieces:
        unspaced_run = code == previous and code in UNSPACED_LANGUAGES
        if text and not text[-1].isspace() and not piece[:1].isspace() and not unspaced_run:
            text += " "
        text += piece
        previous = code
    return text.strip()


def run_spans(runs: list[LanguageRun], samples: int) -> list[tuple[int, int]]:
    """The stretch of audio (sample offsets) decoded for each run: the runs tile the recording,
    cut halfway through the pauses where the language changes. The audio is not trimmed to the
    speech: that changes what Whisper hears, and words the raw engine finds go missing."""
    cuts = [(a.speech[-1]["end"] + b.speech[0]["start"]) // 2 for a, b in itertools.pairwise(runs)]
    return list(zip([0, *cuts], [*cuts, samples], strict=True))


def pack_clips(speech: list[dict[str, int]], max_samples: int, max_gap: int | None = None) -> list[dict[str, int]]:
    """Merge consecutive VAD segments (sample offsets) into clips no longer than `max_samples`
    (and, with `max_gap`, only segments at most that many samples apart)."""
    clips: list[dict[str, int]] = []
    for seg in speech:
        close = max_gap is None or (clips and seg["start"] - clips[-1]["end"] <= max_gap)
        if clips and close and seg["end"] - clips[-1]["start"] <= max_samples:
            clips[-1]["end"] = seg["end"]
        else:
            clips.append({"start": seg["start"], "end": min(seg["end"], seg["start"] + max_samples)})
    return clips


def split_contiguous(clips: list[dict[str, int]], groups: int) -> list[list[dict[str, int]]]:
    """Cut the ordered clips into at most `groups` contiguous runs of similar total length."""
    groups = max(1, min(groups, len(clips)))
    total = sum(c["end"] - c["start"] for c in clips)
    runs: list[list[dict[str, int]]] = [[]]
    done = 0
    for clip in clips:
        if runs[-1] and len(runs) < groups and done >= total * len(runs) / groups:
            runs.append([])
        runs[-1].append(clip)
        done += clip["end"] - clip["start"]
    return runs
