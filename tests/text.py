"""Transcript normalisation for word error rates."""

import re

# The English clips of ../shared/data that have reference transcripts.
ENGLISH_CLIPS = [
    "asr/en_librispeech_1995-1837-0001.wav",
    "asr/en_LJ050-0131.wav",
    "asr/sb_spk1_snt1.wav",
    "asr/sb_spk1_snt2.wav",
    "asr/sb_spk1_snt3.wav",
    "asr/sb_spk2_snt1.wav",
    "asr/sb_spk2_snt2.wav",
    "asr/sb_spk2_snt3.wav",
]

# One sentence per TTS language.
SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog. Then it runs back home.",
    "ja": "今日はとても良い天気です。公園を散歩しましょう。",
    "vi": "Xin chào, hôm nay trời đẹp quá.",
    "fr": "Bonjour, il fait très beau aujourd'hui.",
    "ko": "안녕하세요, 오늘 날씨가 정말 좋네요.",
    "zh": "你好，今天天气很好。",
    "ru": "Здравствуйте, сегодня прекрасная погода.",
}

_NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    words = [_NUMBERS.get(w, w) for w in text.split()]
    return " ".join(words)


def reference_text(manifest_reference: str) -> str:
    """The spoken sentence of a MANIFEST reference: the corrected Harvard sentence where the
    upstream label has a typo, without the bracketed speaker note."""
    harvard = re.search(r"\(Harvard sentence: ([^)]*)\)", manifest_reference)
    if harvard:
        return harvard.group(1)
    return manifest_reference.split(" [")[0]
