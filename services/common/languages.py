"""The languages the platform's wire protocols name (the API reference's seven), written once."""

from typing import Literal, get_args

Language = Literal["vi", "en", "fr", "ja", "ko", "zh", "ru"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "vi"  # the reference's default where a request names none
# How a prompt names each language (the voice agent's "answer in {language}").
LANGUAGE_NAMES: dict[str, str] = {
    "vi": "Vietnamese (tiếng Việt)",
    "en": "English",
    "fr": "French (français)",
    "ja": "Japanese (日本語)",
    "ko": "Korean (한국어)",
    "zh": "Mandarin Chinese (中文)",
    "ru": "Russian (русский)",
}
