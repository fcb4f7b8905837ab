"""Wire schemas of the voice service (field names follow the API reference)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["ACCEPT", "REJECT"]
SpoofMode = Literal["bank_top_security", "bank_flex", "consumer"]


class RegisterResponse(BaseModel):
    status: Literal["success"] = "success"
    speaker_id: str = Field(description="UUID of the new voice print.")
    file_path: str = Field(description="The stored reference, relative to the service's data directory.")
    speech_seconds: float = Field(description="Speech in the reference after VAD trimming.")
    warnings: list[str] = Field(description="E.g. a reference shorter than the recommended 3 s of speech.")


class VerifyResult(BaseModel):
    file: str = Field(description="The uploaded file's name (as sent; never used as a path).")
    score: float = Field(description="AS-Norm score; above `threshold` means ACCEPT.")
    verdict: Verdict
    path: str | None = Field(description="Where the file was stored for audit (null when KEEP_VERIFY_AUDIO=false).")
    cosine: float = Field(description="Raw cosine similarity of the two embeddings, before AS-Norm.")
    threshold: float
    speech_seconds: float = Field(description="Speech in the file after VAD trimming.")


class VerifyResponse(BaseModel):
    speaker_id: str
    reference: str = Field(description="Stored reference of the voice print.")
    results: list[VerifyResult]


class VerifyWithReferenceResponse(BaseModel):
    reference_file: str
    results: list[VerifyResult]


class SpeakerOut(BaseModel):
    speaker_id: str
    name: str
    description: str
    file_path: str
    model_id: str
    speech_seconds: float
    created_at: datetime
    user_id: str = Field(description="The owner: the API key's user that registered it; `default`: shared.")


class SpeakerList(BaseModel):
    speakers: list[SpeakerOut]
    limit: int
    offset: int


class SpoofResult(BaseModel):
    file: str
    result: Literal["real", "fake"]
    is_real: bool
    score: float = Field(description="Probability (0-1) that the speech is bona fide, from AASIST.")
    threshold: float = Field(description="The mode's threshold: `real` when score >= threshold.")
    confidence: float = Field(description="Distance from the threshold toward the verdict's end, 0 (on it) to 1.")
    qa_passed: bool = Field(description="Input quality: long enough, not clipped, enough speech.")
    qa_issues: list[str] = Field(description="Why `qa_passed` is false (empty when it passed).")


class SpoofResponse(BaseModel):
    mode: SpoofMode
    model: str
    results: list[SpoofResult]
