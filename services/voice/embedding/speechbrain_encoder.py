"""SpeechBrain speaker encoders (ECAPA-TDNN and others) from a local directory or a Hugging Face id.

Needs the `speechbrain` extra (and torchaudio); it is kept out of the default install."""

from pathlib import Path

import numpy as np

from services.voice.embedding.base import unit


class SpeechBrainEncoder:
    def __init__(self, source: str, device: str, cache_dir: Path) -> None:
        try:
            from speechbrain.inference.speaker import EncoderClassifier
        except ImportError as exc:
            raise RuntimeError(
                f"SPEAKER_MODEL={source!r} needs SpeechBrain: pip install 'voicefleet[speechbrain]' ({exc})"
            ) from exc
        import torch

        self._torch = torch
        local = Path(source).expanduser()
        savedir = local if local.is_dir() else cache_dir / "speechbrain" / source.replace("/", "--")
        self._model = EncoderClassifier.from_hparams(
            source=str(local) if local.is_dir() else source, savedir=str(savedir), run_opts={"device": device}
        )
        if self._model is None:
            raise RuntimeError(f"SpeechBrain could not load a speaker encoder from {source!r}")
        self.model_id = f"speechbrain:{source}"
        self.dim = int(self.embed(np.zeros(16_000, dtype=np.float32) + 1e-3).size)

    def embed(self, speech: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            batch = self._torch.from_numpy(np.ascontiguousarray(speech, dtype=np.float32))[None]
            return unit(self._model.encode_batch(batch).squeeze().cpu().numpy())
