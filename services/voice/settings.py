"""Voice service settings (environment variables of the same name, upper-case)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.common.settings import ServiceSettings


class VoiceSettings(ServiceSettings):
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database holding voice prints, e.g. "
        "`postgresql://user@host/db` (asyncpg); unset: a SQLite file at `<DATA_DIR>/voice/voice.db`.",
    )
    speaker_model: str = Field(
        "embedded:resemblyzer",
        description="Speaker embedding model: `embedded:resemblyzer` (weights ship in its wheel), or a local "
        "SpeechBrain model directory or Hugging Face id (e.g. `speechbrain/spkrec-ecapa-voxceleb`; needs the "
        "`speechbrain` extra).",
    )
    speaker_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto`: CUDA when visible.")
    cohort_path: Path | None = Field(
        None,
        description="`.npy` matrix of cohort embeddings for AS-Norm (rows: utterances of speakers who are not "
        "being verified). Unset: the cohort shipped for the embedded model; other models need one "
        "(build it with `python -m services.voice.cohort`).",
    )
    asnorm_top_n: int = Field(
        15, ge=2, description="AS-Norm uses the N cohort scores closest to each side (capped at the cohort size)."
    )
    verify_threshold: float = Field(3.5, description="AS-Norm score above which a verification is ACCEPT.")
    enroll_min_speech_s: float = Field(
        1.5,
        ge=0.5,
        description="Registration needs at least this much speech after VAD trimming (422 otherwise).",
    )
    enroll_recommended_speech_s: float = Field(
        3.0,
        ge=0.5,
        description="Registration with less speech than this succeeds with a warning in the response: "
        "short references make less reliable voice prints.",
    )
    verify_min_speech_s: float = Field(
        1.0, ge=0.3, description="A file to verify needs at least this much speech after VAD trimming (422)."
    )
    voice_max_duration_s: float = Field(300.0, gt=0, description="Longer uploads are rejected (413).")
    voice_max_files: int = Field(20, ge=1, description="Most files accepted in one verify or anti-spoof request.")
    keep_verify_audio: bool = Field(
        True,
        description="Store every verified file as 16 kHz WAV under `<DATA_DIR>/voice/verifications/` "
        "(the `path` of each result), for audit; false: `path` is null and nothing is kept.",
    )
    verify_audio_retention_days: float = Field(
        30.0, gt=0, description="Stored verification audio older than this is deleted (checked hourly)."
    )
    antispoof_model: Path | None = Field(
        None,
        description="AASIST ONNX file made by `make antispoof-model` (or `python -m tools.antispoof.export`)."
        " Unset: /voice/anti-spoof answers 503.",
    )
    antispoof_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto`: onnxruntime's CUDA provider when it is installed and a GPU is visible."
    )
    antispoof_threshold_bank_top_security: float = Field(
        0.85, ge=0, le=1, description="Bona fide probability a file needs to be `real` in mode bank_top_security."
    )
    antispoof_threshold_bank_flex: float = Field(
        0.5, ge=0, le=1, description="Bona fide probability a file needs to be `real` in mode bank_flex."
    )
    antispoof_threshold_consumer: float = Field(
        0.15, ge=0, le=1, description="Bona fide probability a file needs to be `real` in mode consumer."
    )
    antispoof_min_duration_s: float = Field(
        1.0, gt=0, description="Quality check: shorter files fail `qa_passed` (shorter than 0.3 s: 422)."
    )
    antispoof_min_speech_s: float = Field(0.5, ge=0, description="Quality check: least speech after VAD.")
    antispoof_max_clipped: float = Field(
        0.01, ge=0, le=1, description="Quality check: largest share of samples at full scale."
    )
    ssap_gender_model: str | None = Field(
        "embedded:voice2gender",
        description="Gender for /voice/profile: `embedded:voice2gender` (XGBoost on pitch and spectral "
        "features, ships in its wheel), or an audio classifier like SSAP_AGE_MODEL; empty: no gender.",
    )
    ssap_age_model: str | None = Field(
        None,
        description="Age classifier: an ONNX file (or a directory with model.onnx and the model's config.json, "
        "as `optimum-cli export onnx --task audio-classification` writes it), or a Hugging Face "
        "audio-classification model id or directory (needs the `ssap-hf` extra). Unset: no age property.",
    )
    ssap_emotion_model: str | None = Field(None, description="Emotion classifier, given like SSAP_AGE_MODEL.")
    ssap_gender_labels: str | None = Field(
        None, description="Comma-separated class labels of an ONNX gender model without a config.json."
    )
    ssap_age_labels: str | None = Field(None, description="Labels of an ONNX age model, like SSAP_GENDER_LABELS.")
    ssap_emotion_labels: str | None = Field(
        None, description="Labels of an ONNX emotion model, like SSAP_GENDER_LABELS."
    )
    ssap_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Device of the SSAP classifiers.")
    ssap_min_voiced_s: float = Field(
        1.0, ge=0.5, description="Profiling needs this much voiced audio after VAD (422 otherwise)."
    )
    ssap_max_voiced_s: float = Field(
        20.0, gt=0, description="Only the first this many seconds of voiced audio are profiled."
    )
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for private model ids (HF_TOKEN).")
    voice_workers: int = Field(2, ge=1, le=64, description="Inferences that run in parallel.")
    voice_queue_size: int = Field(16, ge=0, description="Requests that may wait; past it the service answers 503.")
    voice_threads: int = Field(1, ge=1, description="Torch / onnxruntime threads per inference on CPU.")

    @model_validator(mode="after")
    def _modes_strictest_first(self) -> "VoiceSettings":
        strict, flex, lenient = (
            self.antispoof_threshold_bank_top_security,
            self.antispoof_threshold_bank_flex,
            self.antispoof_threshold_consumer,
        )
        if not strict >= flex >= lenient:
            raise ValueError("anti-spoof thresholds must satisfy bank_top_security >= bank_flex >= consumer")
        return self

    @property
    def voice_dir(self) -> Path:
        return self.data_dir / "voice"
