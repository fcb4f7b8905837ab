"""Wire schemas of the ASR HTTP API (field names fixed by the API reference)."""

from pydantic import BaseModel, Field


class SegmentOut(BaseModel):
    id: int
    start: float = Field(description="Start time in seconds on the original timeline.")
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    language: str = Field(description="Language of this segment: the one given, or detected per segment.")


class TranscribeResponse(BaseModel):
    filename: str = Field(description="Original file name as sent by the client.")
    text: str = Field(description="Full transcript; empty when the audio has no speech.")
    segments: list[SegmentOut]
    duration: float = Field(description="Audio duration in seconds.")
    processing_time: float = Field(description="Decoding and inference time in seconds.")
    language: str | None = Field(None, description="Language used (given or detected).")
    language_probability: float | None = Field(
        None, description="Detection confidence; null when the language was given or nothing was said."
    )


class OpenAITranscription(BaseModel):
    text: str


class WordOut(BaseModel):
    word: str
    start: float
    end: float


class OpenAIVerboseTranscription(BaseModel):
    task: str = Field("transcribe", description="transcribe, or translate (/v1/audio/translations).")
    language: str | None = Field(description="The spoken language (given or detected), also for a translation.")
    duration: float
    text: str
    segments: list[SegmentOut] | None = Field(None, description="With timestamp_granularities segment (default).")
    words: list[WordOut] | None = Field(None, description="With timestamp_granularities word.")


class DialogueOut(BaseModel):
    speaker: str = Field(description="SPEAKER_00, SPEAKER_01, ... in order of first appearance.")
    start: float
    end: float
    text: str
    words: list[WordOut]


class DiarizedResponse(BaseModel):
    dialogues: list[DialogueOut]
    processing_time: float
    duration: float
    language: str | None
    num_speakers: int
