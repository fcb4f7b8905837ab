"""Short spoken commands through /ws/transcribe/vad (in process, real Silero and Whisper): a one-word command
after a long read passage gets its final, and a short turn whose quick decode loops is read again with a
longer padding, not the whole 30 s window."""

from pathlib import Path

import numpy as np
import pytest

from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.asr.transcriber import Transcriber
from tests.in_process import ServiceApp
from tests.streaming import stream_events, user_turns
from tests.text import normalize
from tests.word_recall import load

RATE = 16_000
NEXT = "spoof/en_stp_human_next.wav"
PASSAGE = "speaker/libri_testother_1688_1688-142285-0002.flac"
BED_LIGHT = "spoof/en_stp_human_set_Bed_Light_brightness_to_50_percent.wav"


def turns(client, audio: np.ndarray, query: str) -> list[str]:
    return [normalize(text) for text in user_turns(stream_events(client, audio, query))]


@pytest.mark.slow  # Whisper decodes every turn on CPU
@pytest.mark.parametrize("turn_model", ["true", "false"])
def test_commands_after_long_passages_keep_every_word(service_app: ServiceApp, tmp_path: Path, turn_model: str) -> None:
    """As the voice agent streams (silence_ms 500), each command 4 s (its reply playing) after a passage: "next"
    gets its final, and "set Bed Light brightness to 50 percent" keeps its "set" (before the VAD's state was
    cleared between turns, Silero heard it late after this passage: "bed-life brightness of the deeper sound")."""
    pause = np.zeros(4 * RATE, np.float32)
    clips = [PASSAGE, NEXT, "speaker/libri_testother_1998_1998-15444-0001.flac", BED_LIGHT]
    audio = np.concatenate([piece for clip in clips for piece in (load(clip), pause)])
    with service_app("asr", tmp_path, ASR_SOLO_THREADS="1") as client:  # no file decodes: no solo copy
        finals = turns(client, audio, f"silence_ms=500&language=en&turn_model={turn_model}")
    assert len(finals) == 4 and "silly" in finals[0] and finals[1] == "next", finals
    assert finals[3].startswith("set bed light brightness"), finals


@pytest.mark.service  # the real Whisper base
def test_a_looping_short_turn_is_read_with_a_longer_padding_not_the_whole_window() -> None:
    """ "next" alone with 3 s of padding comes out "next next next ..." (a loop); 8 s reads it."""
    model = load_asr_model(AsrSettings())
    whole_window = []
    model.transcribe = lambda *args, **kwargs: whole_window.append(args) or ([], None)
    speech = load(NEXT)[int(0.4 * RATE) : int(1.3 * RATE)]  # the word, 0.9 s
    text = Transcriber(model, AsrSettings()).transcribe_utterance(speech, "en").text
    assert normalize(text) == "next" and whole_window == [], (text, len(whole_window))
