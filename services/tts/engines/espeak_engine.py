"""espeak-ng (GPL-3.0): formant synthesis for every language; robotic.

Two ways to run it, the same voices and output:
- the `espeak-ng` program (the Debian package), one process per sentence, used when it is on PATH;
- otherwise libespeak-ng and its voice data from the `espeakng-loader` wheel, in process through ctypes,
  so that no system package is needed. The library keeps global state, so calls are serialised by a lock
  (a sentence takes a few milliseconds).
"""

import ctypes
import io
import shutil
import subprocess
import threading
import wave

import numpy as np

from services.common.languages import LANGUAGES as PLATFORM_LANGUAGES
from services.tts.engines.base import EngineError, Voice

TIMEOUT_S = 30
LANGUAGES = frozenset(PLATFORM_LANGUAGES)

# espeak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
EE_OK = 0


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated name)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def load_espeak(binary: str) -> "EspeakProgramEngine | EspeakLibraryEngine":
    """The program when `binary` is on PATH, else the library shipped by espeakng-loader."""
    path = shutil.which(binary)
    if path is not None:
        return EspeakProgramEngine(path)
    try:
        import espeakng_loader
    except ImportError:
        raise FileNotFoundError(
            f"{binary} not found and espeakng-loader is not installed: pip install espeakng-loader "
            "(or the Debian package espeak-ng)"
        ) from None
    return EspeakLibraryEngine(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())


class EspeakProgramEngine:
    name = "espeak"
    languages = LANGUAGES
    sample_rate = 22_050

    def __init__(self, path: str) -> None:
        self._binary = path
        listed = subprocess.run([path, "--voices"], capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
        # Columns: Pty Language Age/Gender VoiceName File …; a voice is named by its language or its file.
        rows = [line.split() for line in listed.stdout.splitlines()[1:] if len(line.split()) >= 5]
        self.voices = frozenset(name for row in rows for name in (row[1], row[4].rsplit("/", 1)[-1]))

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        if voice.voice.split("+")[0] not in self.voices:
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


class EspeakLibraryEngine:
    name = "espeak"
    languages = LANGUAGES

    def __init__(self, library_path: str, data_path: str) -> None:
        self._lib = ctypes.CDLL(library_path)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_EspeakVoice)]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        rate = self._lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if rate <= 0:
            raise OSError(f"libespeak-ng could not initialise with its data at {data_path}")
        self.sample_rate = rate
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept referenced for the library's lifetime
        self._lib.espeak_SetSynthCallback(self._callback)
        self.voices = frozenset(self._list_voices())

    def _list_voices(self) -> list[str]:
        """Each voice's first language (`fr-fr`) and file name (`fr`), as the program accepts for -v."""
        names = []
        voices = self._lib.espeak_ListVoices(None)
        for index in range(10_000):
            voice = voices[index]
            if not voice:
                break
            languages = ctypes.cast(voice.contents.languages, ctypes.c_char_p).value or b""
            names.append(languages[1:].decode())  # past the priority byte
            names.append((voice.contents.identifier or b"").decode().rsplit("/", 1)[-1])
        return [name for name in names if name]

    def _collect(self, samples, count: int, _events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0

    def _select(self, name: str) -> bool:
        """As the espeak-ng program does for -v: a voice name, else a language (`fr-fr`, `en-us+f3`)."""
        if self._lib.espeak_SetVoiceByName(name.encode()) == EE_OK:
            return True
        wanted = ctypes.create_string_buffer(name.encode())
        properties = _EspeakVoice(languages=ctypes.cast(wanted, ctypes.c_void_p))
        return self._lib.espeak_SetVoiceByProperties(ctypes.byref(properties)) == EE_OK

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        if voice.voice.split("+")[0] not in self.voices:
            raise EngineError(f"espeak-ng has no voice {voice.voice!r}")
        text = sentence.encode()
        with self._lock:
            if not self._select(voice.voice):
                raise EngineError(f"espeak-ng could not select voice {voice.voice!r}")
            self._chunks = []
            status = self._lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
            chunks, self._chunks = self._chunks, []
        if status != EE_OK:
            raise EngineError(f"espeak-ng failed with status {status}")
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0
