"""File transcription on a shared Whisper model: the original audio decoded as the raw engine
decodes it, per language run, long files in pieces that the service decodes as separate jobs on
its workers, with timestamps on the original timeline. Every method blocks: run it off the event
loop."""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment as WhisperSegment
from faster_whisper.vad import VadOptions, get_speech_timestamps

from services.asr.dialogues import Word
from services.asr.language_id import LanguageRun, detect_padded, language_runs, sure_language
from services.asr.levels import level_up
from services.asr.settings import AsrSettings
from services.asr.short_context import TurnContext, decode_short_context

SAMPLE_RATE = 16_000
CLIP_SECONDS = 30.0  # Whisper's window: the longest clip decoded in one pass
# A streamed turn whose short-context decode loops is decoded again with this much padding before the full
# window (a third of its encoder time). Tuned on 153 pieces of 1-4 words cut from shared clips no voice-agent
# benchmark uses: 7 looped with 3 s; 8 s resolved all 7 with the full window's WER (0.44 on those).
LOOP_RETRY_PAD_S = 8.0
# Silero VAD options for files: segments cut at pauses of 300 ms, where a language may change.
FILE_VAD = VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=300, max_speech_duration_s=CLIP_SECONDS)
# A long file is cut where padded segments are this far apart (a pause of at least 0.8 s).
MIN_CUT_PAUSE = int(0.2 * SAMPLE_RATE)
PIECE_MARGIN = SAMPLE_RATE // 2  # of a pause, kept on each side of a cut
# Whisper sometimes stops early in a window. Speech that Silero hears more than TIMESTAMP_SLACK
# after Whisper's last segment of a piece, MISSED_SPEECH of it in all, is decoded again (at most
# MAX_TAIL_RETRIES times per piece); less than that is taken for imprecise timestamps.
TIMESTAMP_SLACK = int(0.5 * SAMPLE_RATE)
MISSED_SPEECH = int(2.0 * SAMPLE_RATE)
MAX_TAIL_RETRIES = 2


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
    mode: str  # "parallel": in pieces, on several workers when free; "solo": on the solo model; "sequential"


@dataclass(frozen=True)
class DecodeRequest:
    """What a file request asks of Whisper besides the language: the task (`translate`: into English), a
    prompt (Whisper's initial prompt of every piece) and a temperature (None: faster-whisper's fallback
    from 0 up, as OpenAI's 0 means)."""

    task: Literal["transcribe", "translate"] = "transcribe"
    prompt: str | None = None
    temperature: float | None = None

    def options(self) -> dict[str, object]:
        fixed = {} if self.temperature is None else {"temperature": self.temperature}
        return {"task": self.task, "initial_prompt": self.prompt or None, **fixed}


TRANSCRIBE = DecodeRequest()  # what /transcribe asks: Whisper's defaults


@dataclass(frozen=True)
class FilePlan:
    """A file's audio and what `Transcriber.plan` found in it: Silero's speech segments, the
    pieces to decode (language, sample span) and the main language."""

    audio: np.ndarray
    duration: float
    speech: list[dict[str, int]]
    pieces: list[tuple[str, tuple[int, int]]]
    language: str | None
    probability: float | None
    words: bool
    request: DecodeRequest = TRANSCRIBE


@dataclass(frozen=True)
class UtteranceText:
    text: str
    language: str | None
    language_probability: float | None


class Transcriber:
    """Owns the decoding policy; `transcribe` is blocking and must run off the event loop."""

    def __init__(self, model: WhisperModel, settings: AsrSettings, solo: WhisperModel | None = None) -> None:
        self.model = model
        self.settings = settings
        # The same weights with every CPU thread, for a piece decoded while nothing else runs on the model.
        self.solo = solo

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.model.supported_languages)

    def plan(
        self, audio: np.ndarray, language: str | None, *, words: bool = False, request: DecodeRequest = TRANSCRIBE
    ) -> FilePlan:
        """What to decode in a file: its speech (Silero), its language runs and the pieces they are
        cut into. The original audio keeps its pauses and is decoded as the raw engine decodes it
        (cutting pauses out changes what Whisper hears, and words go missing), one language run at
        a time; a long file is also cut in pauses into pieces of about one window, each decoded
        on its own (`decode_piece`), on as many of the model's workers as are free."""
        duration = round(audio.size / SAMPLE_RATE, 3)
        speech = get_speech_timestamps(audio, FILE_VAD)
        if not speech:
            # No voiced audio: nothing to decode, and nothing for Whisper to hallucinate.
            return FilePlan(audio, duration, speech, [], language, None, words, request)
        runs, main, probability = language_runs(self.model, audio, speech, language)
        pieces = [
            (run.language, piece)
            for run, span in zip(runs, run_spans(runs, audio.size), strict=True)
            for piece in cut_at_pauses(run.speech, span, int(CLIP_SECONDS * SAMPLE_RATE), MIN_CUT_PAUSE)
        ]
        return FilePlan(audio, duration, speech, pieces, main, probability, words, request)

    def decode_piece(self, plan: FilePlan, index: int, solo: bool = False) -> list[tuple[WhisperSegment, str]]:
        """Piece `index` of the plan, its segments on the recording's timeline with their language;
        `solo`: on the model with every CPU thread (when the caller knows nothing else runs)."""
        code, (start, end) = plan.pieces[index]
        # One window or less is decoded exactly as the raw engine decodes it: no second decode of a tail.
        retries = 0 if len(plan.pieces) == 1 else MAX_TAIL_RETRIES
        model = self.solo if solo and self.solo is not None else self.model
        decoded = self._decode_piece(model, plan, code, start, end, retries)
        return [(seg, code) for seg in decoded]

    def collect(
        self, plan: FilePlan, pieces: Iterable[list[tuple[WhisperSegment, str]]], *, solo: bool = False
    ) -> Transcription:
        """The transcription of the plan's decoded pieces, in order (`solo`: asked of the solo model)."""
        voiced = [(seg, code) for piece in pieces for seg, code in piece if not self._is_silence(seg)]
        kept = [self._to_segment(index, seg, code, plan.duration) for index, (seg, code) in enumerate(voiced)]
        return Transcription(
            text=join_texts([(seg.text, code) for seg, code in voiced]),
            segments=kept,
            duration=plan.duration,
            language=plan.language,
            language_probability=None if plan.probability is None else round(plan.probability, 4),
            mode="parallel" if len(plan.pieces) > 1 else "solo" if solo and self.solo else "sequential",
        )

    def transcribe(self, audio: np.ndarray, language: str | None, *, words: bool = False) -> Transcription:
        """The whole file on this thread, piece after piece (the service decodes the pieces as jobs
        of its budget instead)."""
        plan = self.plan(audio, language, words=words)
        return self.collect(plan, [self.decode_piece(plan, index) for index in range(len(plan.pieces))])

    def transcribe_utterance(
        self, audio: np.ndarray, language: str | None, context: TurnContext | None = None
    ) -> UtteranceText:
        """Decode one streamed turn (already cut by VAD): short context first, then, if that loops, a
        longer padding (LOOP_RETRY_PAD_S), the full window as the last resort. `context` is what came just
        before, so that a turn cut short by a pause is read in its sentence (see services/asr/short_context.py)."""
        s = self.settings
        lead_s = 0.0 if context is None else context.lead().size / SAMPLE_RATE
        for pad_s in short_context_pads(s.asr_stream_context_pad_s):
            if lead_s + audio.size / SAMPLE_RATE + pad_s >= CLIP_SECONDS:
                break
            short = decode_short_context(
                self.model, audio, language, pad_s=pad_s, beam_size=s.asr_stream_beam_size, context=context
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

    def _decode_piece(
        self, model: WhisperModel, plan: FilePlan, language: str, start: int, end: int, retries: int
    ) -> list[WhisperSegment]:
        """Decode `audio[start:end]` alone (faster-whisper computes features for all it is given),
        on the recording's timeline. Whisper sometimes ends its transcript early and skips the rest
        of the window; speech that Silero hears after the last decoded segment is decoded again
        from the pause before it, so that it is not lost."""
        segments, _ = model.transcribe(
            plan.audio[start:end],
            condition_on_previous_text=False,
            vad_filter=False,
            word_timestamps=plan.words,
            **self._decode_options(language),
            **plan.request.options(),
        )
        # Consume the generator here, on this worker thread: decoding happens while iterating.
        decoded = [shifted(seg, start / SAMPLE_RATE) for seg in segments]
        voiced = [seg for seg in decoded if not self._is_silence(seg)]
        heard_until = int(voiced[-1].end * SAMPLE_RATE) if voiced else start
        inside = [seg for seg in plan.speech if start <= seg["start"] and seg["end"] <= end]
        missed = [seg for seg in inside if seg["end"] > heard_until + TIMESTAMP_SLACK]
        if retries == 0 or sum(seg["end"] - max(seg["start"], heard_until) for seg in missed) < MISSED_SPEECH:
            return decoded
        first = inside.index(missed[0])
        restart = (inside[first - 1]["end"] + missed[0]["start"]) // 2 if first else missed[0]["start"]
        if restart <= start:
            return decoded
        kept = [seg for seg in decoded if seg.start * SAMPLE_RATE < restart]
        return kept + self._decode_piece(model, plan, language, restart, end, retries - 1)

    def _decode_options(self, language: str | None) -> dict[str, object]:
        s = self.settings
        return {
            "language": language,
            "beam_size": s.asr_beam_size,
            "no_speech_threshold": s.asr_no_speech_threshold,
            "log_prob_threshold": s.asr_log_prob_threshold,
        }

    def _is_silence(self, seg: WhisperSegment) -> bool:
        s = self.settings
        return (
            seg.no_speech_prob > s.asr_no_speech_threshold and seg.avg_logprob < s.asr_log_prob_threshold
        ) or not seg.text.strip()

    @staticmethod
    def _to_segment(index: int, seg: WhisperSegment, language: str, duration: float) -> Segment:
        """`seg` for the response, its times within the recording (Whisper's last timestamp can
        pass the end of the audio)."""
        return Segment(
            id=index,
            language=language,
            start=round(min(seg.start, duration), 3),
            end=round(min(seg.end, duration), 3),
            text=seg.text.strip(),
            tokens=list(seg.tokens),
            avg_logprob=round(seg.avg_logprob, 4),
            no_speech_prob=round(seg.no_speech_prob, 4),
            words=[
                Word(w.word, round(min(w.start, duration), 3), round(min(w.end, duration), 3)) for w in seg.words or ()
            ],
        )


UNSPACED_LANGUAGES = frozenset({"zh", "ja", "yue", "th", "lo", "my", "bo"})  # written without spaces between words


def short_context_pads(pad_s: float) -> list[float]:
    """The paddings a streamed turn is tried with before the full window (none when `pad_s` is 0)."""
    if pad_s <= 0:
        return []
    return [pad_s, LOOP_RETRY_PAD_S] if pad_s < LOOP_RETRY_PAD_S else [pad_s]


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


def shifted(seg: WhisperSegment, offset_s: float) -> WhisperSegment:
    """`seg` (and its words) moved `offset_s` later: from a piece's timeline to the recording's."""
    if not offset_s:
        return seg
    words = [replace(w, start=w.start + offset_s, end=w.end + offset_s) for w in seg.words or ()]
    return replace(seg, start=seg.start + offset_s, end=seg.end + offset_s, words=words or seg.words)


def cut_at_pauses(
    speech: list[dict[str, int]], span: tuple[int, int], max_piece: int, min_pause: int
) -> list[tuple[int, int]]:
    """`span` (sample offsets) cut into pieces of at most `max_piece` where it can be: in the latest
    pause between `speech` segments of at least `min_pause` before a piece would grow longer.
    Pieces decode independently without a word cut in two, each in one Whisper window; speech
    without such a pause stays in one longer piece. At a cut each side keeps at most PIECE_MARGIN
    of the pause: Whisper times speech after a long silence seconds early."""
    start, end = span
    if end - start <= max_piece + SAMPLE_RATE:  # about one window (a 30 s recording is a few samples over)
        return [span]
    pieces: list[tuple[int, int]] = []
    piece_start, candidate = start, None
    for before, after in itertools.pairwise(speech):
        if after["start"] - before["end"] >= min_pause:
            candidate = (before, after)
        if after["end"] - piece_start > max_piece and candidate is not None and candidate[0]["end"] > piece_start:
            left, right = candidate
            middle = (left["end"] + right["start"]) // 2
            pieces.append((piece_start, min(middle, left["end"] + PIECE_MARGIN)))
            piece_start, candidate = max(middle, right["start"] - PIECE_MARGIN), None
    return [*pieces, (piece_start, end)]
