"""espeak-ng (GPL-3.0, run as a separate program): formant synthesis for every language; robotic."""

import io
import shutil
import subprocess
import wave

import numpy as np

from services.tts.engines.base import EngineError, Voice

TIMEOUT_S = 30


class EspeakEngine:
    name = "espeak"
    languages = frozenset({"vi", "en", "fr", "ja", "ko", "zh", "ru"})
    sample_rate = 22_050

    def __init__(self, binary: str) -> None:
        path = shutil.which(binary)
        if path is None:
            raise FileNotFoundError(f"{binary} not found: install the Debian package espeak-ng")
        self._binary = path
        listed = subprocess.run([path, "--voices"], capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
        self.voices = frozenset(line.split()[1] for line in listed.stdout.splitlines()[1:] if line.split())

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        if voice.voice not in self.voices:
            raise EngineError(f"espeak-ng has no voice {voice.voice!r}")
        # The text goes on stdin, never on the command line (no option injection).
        result = subprocess.run(
            [self._binary, "-v", voice.voice, "--stdout", "--stdin"],
            input=sentence.encode(),
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        if result.returncode != 0:
            raise EngineError(f"espeak-ng failed: {result.stderr.decode(errors='replace')[:200]}")
        with wave.open(io.BytesIO(result.stdout)) as audio:
            frames = audio.readframes(audio.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
