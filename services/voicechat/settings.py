"""Voice-chat settings (environment variables of the same name, upper-case)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.voicechat.profile_prompt import check_template
from services.voicechat.urls import ALL_SCHEMES, parse_url


class VoicechatSettings(ServiceSettings):
    # A refused value is not echoed at start: an ALLOWED_URLS entry or an LLM URL may hold credentials.
    model_config = SettingsConfigDict(hide_input_in_errors=True)  # merged with ServiceSettings'

    asr_ws_url: str = Field(
        "ws://127.0.0.1:8201/ws/transcribe/vad", description="Built-in ASR stream (the asr service)."
    )
    tts_ws_url: str = Field("ws://127.0.0.1:8202/ws/tts", description="TTS stream (the tts service).")
    llm_base_url: str = Field(
        "http://127.0.0.1:8210/v1", description="OpenAI-compatible LLM (default: the local llama.cpp server)."
    )
    llm_model: str = Field("smollm2", description="Model name sent to the LLM.")
    llm_api_key: SecretStr = Field(SecretStr("unused"), description="API key for the LLM endpoint.")
    llm_timeout_s: float = Field(30.0, gt=0, description="A reply that has not finished by then is an error.")
    llm_max_tokens: int = Field(256, ge=1, description="Longest reply, in tokens.")
    allowed_urls: list[str] = Field(
        default_factory=list,
        description="URL prefixes a client may send as llm_base_url / tts_ws_url / asr_ws_url (JSON list, e.g. "
        '`["https://api.openai.com/v1", "ws://asr.internal:8124/", "https://*.example.com/v1"]`). Compared after '
        "normalising (scheme, host, port, whole path segments); `*.` matches any name under a domain. A client's "
        "URL is resolved at each connection: loopback, private and link-local addresses only through an entry "
        "naming the host exactly, cloud-metadata, multicast and unspecified ones only through an entry naming "
        "that IP address; redirects are never followed and the LLM key is never sent to a client's URL. The "
        "configured defaults are always allowed; anything else is refused with an error event.",
    )
    system_prompt: str = Field(
        "You are a helpful voice assistant. Answer briefly, in one or two short sentences.",
        description="System prompt of every conversation (a client's `user_system_prompt` is appended).",
    )
    language_prompt: str = Field(
        "The user speaks {language}. Always answer in {language}.",
        description="Joins the system prompt with the session's `language` named in {language} "
        "(e.g. `Vietnamese (tiếng Việt)`). Empty: nothing is added.",
    )
    ssap_prompt_template: str = Field(
        "An automatic estimate from the user's voice, which may be wrong: {profile}. "
        "Adapt your tone to it; do not mention it unless asked.",
        description="With `ssap: true`, the latest voice profile joins the system prompt through this template. "
        "Placeholders: {profile} (e.g. `gender: female (92%), age: adult (75%)`), {gender}, {age}, {emotion} "
        "(the likeliest label, or `unknown`). Empty: the profile is not given to the LLM.",
    )
    history_max_messages: int = Field(
        20, ge=2, description="User and assistant messages a session keeps (and gives the LLM); older ones are dropped."
    )
    max_sessions: int = Field(
        64, ge=1, description="Sessions one replica serves at once; one more gets an error event and close code 1013."
    )
    max_text_turns_per_minute: int = Field(
        30, ge=1, description="`text_input` turns a session may start per minute; more get an error event."
    )
    agent_silence_ms: int = Field(
        500,
        ge=100,
        le=5000,
        description="End-of-turn silence asked of the ASR (`silence_ms`): a turn ends after this much "
        "silence, so a pause inside a sentence shorter than this never cuts the user off. With "
        "AGENT_TURN_MODEL it is the upper bound for a turn the model does not find complete.",
    )
    agent_turn_model: bool = Field(
        True,
        description="Ask the ASR's turn model to end a turn it finds complete after a 200 ms pause (query "
        "`turn_model=true`): first audio about a third sooner. A turn the user goes on with before "
        "AGENT_SILENCE_MS is carried on and answered whole (its final replaces the early one, and the reply "
        "to the fragment is cut), so the finals keep the words of silence alone (docs/BENCHMARKS.md, "
        "turn-completion model). Off: turns end on silence only, and a reply never starts on a fragment.",
    )
    follow_up_after_s: float = Field(
        8.0, gt=0, description="Silence after the agent's reply has played out before it follows up."
    )
    max_follow_ups: int = Field(1, ge=0, description="Follow-ups in a row while the user stays silent.")
    inactivity_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Silence (neither the user nor the agent) after which the session ends with `disconnect`.",
    )
    audio_lead_s: float = Field(
        1.0, ge=0.2, description="Agent audio is sent at most this far ahead of real time (the client's buffer)."
    )
    barge_in_min_ms: int = Field(200, ge=50, description="Speech this long while the agent speaks interrupts it.")
    barge_in_volume: float = Field(0.02, ge=0, le=1, description="RMS a 20 ms frame needs to count as speech.")

    @field_validator("allowed_urls")
    @classmethod
    def _entries_parse(cls, entries: list[str]) -> list[str]:
        for number, entry in enumerate(entries, 1):  # by position: an entry is not echoed, it may hold a secret
            parse_url(entry, f"ALLOWED_URLS entry {number}", ALL_SCHEMES, entry=True)
        return entries

    @field_validator("language_prompt")
    @classmethod
    def _language_placeholder(cls, template: str) -> str:
        return check_template(template, ("language",))

    @field_validator("ssap_prompt_template")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        return check_template(template)
