"""POST /voice/profile: the voice service's answer, which the ASR's stream profiler (SSAP) reads too."""

from pydantic import BaseModel, Field


class ProfileModel(BaseModel):
    available: bool
    model: str | None = Field(None, description="The configured model (id or path).")
    reason: str | None = Field(None, description="Why the property is missing from profiles.")


class ProfileResponse(BaseModel):
    properties: dict[str, dict[str, float]] = Field(
        description="Property (gender, age, emotion) -> label -> probability; each sums to 1. "
        "A property without a model is absent."
    )
    models: dict[str, ProfileModel] = Field(description="Per property: the model used, or why there is none.")
    voiced_seconds: float = Field(description="Voiced audio found by VAD.")
