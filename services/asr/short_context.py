"""Fast decoding of short streamed turns: encode only the turn plus some padding instead of
Whisper's fixed 30 s window (the encoder is ~90 % of a decode on CPU and scales with input).

Whisper was trained on 30 s windows; with a truncated context it sometimes does not see where
speech ends and loops. Measured on the shared clips: with 3 s of padding the English WER is 0.043
versus 0.034 for the full window. A result that looks like a loop (compressible text, a repeated
phrase, or the token budget used up) returns None and the caller decodes the full window.
"""

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

SAMPLE_RATE = 16_000
TOKENS_PER_SECOND = 10  # generous: English speech is ~4 tokens/s, CJK up to ~8
MAX_COMPRESSION_RATIO = 2.0
REPEATED_NGRAM = 4


def decode_short_context(
    model: WhisperModel,
    audio: np.ndarray,
    language: str | None,
    *,
    pad_s: float,
    beam_size: int,
) -> tuple[str, str, float | None, float, float] | None:
    """Returns (text, language, detection probability, avg log-prob, no-speech prob), or None
    when the output is not trustworthy."""
    duration = audio.size / SAMPLE_RATE
    padded = np.pad(audio, (0, int(pad_s * SAMPLE_RATE)))
    features = model.feature_extractor(padded)
    features = features[:, : features.shape[-1] // 2 * 2]  # the encoder halves the frame count
    encoded = model.encode(features)
    probability = None
    if language is None:
        token, probability = model.model.detect_language(encoded)[0][0]
        language = token[2:-2]
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    budget = int(8 + duration * TOKENS_PER_SECOND)
    result = model.model.generate(
        encoded,
        [prompt],
        beam_size=beam_size,
        max_length=len(prompt) + budget,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        return_scores=True,
        return_no_speech_prob=True,
    )[0]
    tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    text = tokenizer.decode(tokens).strip()
    if len(tokens) >= budget or looks_like_a_loop(text):
        return None
    return text, language, probability, float(result.scores[0]), float(result.no_speech_prob)


def looks_like_a_loop(text: str) -> bool:
    if text and get_compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return True
    words = text.lower().split()
    grams = [tuple(words[i : i + REPEATED_NGRAM]) for i in range(len(words) - REPEATED_NGRAM + 1)]
    return len(grams) != len(set(grams))
