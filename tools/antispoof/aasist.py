"""AASIST: raw-waveform anti-spoofing with spectro-temporal graph attention (Jung et al., 2021), in
PyTorch, for offline use: exporting a checkpoint to ONNX (tools/antispoof/export.py) and checking the
export. The voice service serves only the ONNX file (services/voice/antispoof/runtime.py).

The network, from the paper "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph
Attention Networks" (ICASSP 2022, arXiv:2110.01200):

1. a fixed sinc band-pass filterbank (mel-spaced, Hamming-windowed) on the 16 kHz waveform, then
   |x|, 3x3 max pooling, batch norm and SELU: a (1, filters/3, samples/3) "spectrogram";
2. a 2-D residual encoder (six blocks, each ending in a 1x3 max pool over time);
3. two graphs from the encoder output: spectral nodes (max over time, plus a learned positional
   embedding) and temporal nodes (max over frequency), each through a graph attention layer and
   a graph pooling layer;
4. two parallel branches of heterogeneous graph attention over the joined spectral + temporal
   graph with a learned master node (HS-GAL), each two layers deep with graph pooling between;
5. the element-wise maximum of the two branches (max graph operation), read out as max |x| and
   mean of the temporal and spectral nodes plus the master node, and a linear layer to two logits:
   index 0 = spoof, index 1 = bona fide.

The computation follows the one the public checkpoints (clovaai/aasist) were trained with, including
two details that differ from a literal reading of the paper: the pre-activation batch norm of the
residual blocks is not applied (its weights are in the checkpoint but the reference forward pass
discards its output), and all four HS-GAL layers use `temperatures[2]` and all four of their graph
pools `pool_ratios[2]`. Submodule and parameter names match the checkpoint's state-dict keys, so
`load_state_dict(strict=True)` works.

The model takes float32 waveforms in [-1, 1] (as decoded from 16-bit PCM), no normalisation, of
`nb_samp` samples (64600 = 4.04 s); `fit_window` tiles shorter clips as in training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tools.antispoof.layers import (
    GraphAttentionLayer,
    GraphPool,
    HeterogeneousGraphAttentionLayer,
    ResidualBlock,
    SincFrontEnd,
)

SPOOF, BONAFIDE = 0, 1


@dataclass(frozen=True)
class AasistConfig:
    """The `model_config` of an AASIST `.conf` file."""

    nb_samp: int
    """Samples per input window (64600 = 4.04 s at 16 kHz)."""
    first_conv: int
    """Sinc filter length in taps; an even value is rounded up to the next odd one."""
    sinc_filters: int
    """Number of sinc band-pass filters (`filts[0]`)."""
    block_channels: tuple[tuple[int, int], ...]
    """(in, out) channels of the residual blocks (`filts[1:]`); the last pair repeats for blocks 4-6."""
    gat_dims: tuple[int, int]
    """Node dimensions after the first graph attention layers and after the HS-GAL layers."""
    pool_ratios: tuple[float, ...]
    """Fractions of nodes kept by graph pooling: spectral, temporal, HS-GAL (index 3 is unused)."""
    temperatures: tuple[float, ...]
    """Attention softmax temperatures: spectral GAT, temporal GAT, HS-GAL (index 3 is unused)."""

    @classmethod
    def from_dict(cls, model_config: Mapping[str, Any]) -> AasistConfig:
        """Build from a `model_config` mapping; ValueError when it does not describe AASIST."""
        architecture = model_config.get("architecture", "AASIST")
        if architecture != "AASIST":
            raise ValueError(f"model_config describes {architecture!r}, not AASIST")
        try:
            filts = model_config["filts"]
            config = cls(
                nb_samp=int(model_config["nb_samp"]),
                first_conv=int(model_config["first_conv"]),
                sinc_filters=int(filts[0]),
                block_channels=tuple((int(a), int(b)) for a, b in filts[1:]),
                gat_dims=(int(model_config["gat_dims"][0]), int(model_config["gat_dims"][1])),
                pool_ratios=tuple(float(r) for r in model_config["pool_ratios"]),
                temperatures=tuple(float(t) for t in model_config["temperatures"]),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"incomplete or malformed AASIST model_config: {exc!r}") from exc
        if len(config.block_channels) != 4 or len(config.pool_ratios) < 3 or len(config.temperatures) < 3:
            raise ValueError(
                "AASIST model_config needs filts = [n, 4 x [in, out]], >= 3 pool_ratios and >= 3 temperatures"
            )
        if config.block_channels[0][0] != 1:
            raise ValueError("the first residual block of AASIST takes 1 input channel")
        return config

    @classmethod
    def from_file(cls, path: Path) -> AasistConfig:
        """Read the `model_config` object of an AASIST `.conf` (JSON) file."""
        try:
            document = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not a JSON AASIST config: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("model_config"), dict):
            raise ValueError(f"{path} has no `model_config` object")
        return cls.from_dict(document["model_config"])

    @property
    def encoder_channels(self) -> list[tuple[int, int]]:
        """(in, out) channels of the six residual blocks."""
        return [*self.block_channels, self.block_channels[-1], self.block_channels[-1]]

    @property
    def spectral_nodes(self) -> int:
        """Spectral graph size: the sinc filters after the 3x3 max pool of the front end."""
        return self.sinc_filters // 3


class Aasist(nn.Module):
    """The AASIST network: (B, nb_samp) float32 waveform -> (B, 2) logits (spoof, bona fide)."""

    def __init__(self, config: AasistConfig) -> None:
        super().__init__()
        self.config = config
        gat_in = config.block_channels[-1][1]
        graph_dim, hsgal_dim = config.gat_dims
        pool_spectral, pool_temporal, pool_hsgal = config.pool_ratios[:3]
        temp_spectral, temp_temporal, temp_hsgal = config.temperatures[:3]

        self.conv_time = SincFrontEnd(config.sinc_filters, config.first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        self.selu = nn.SELU()
        # Nested Sequentials reproduce the checkpoint keys "encoder.<i>.0.<name>".
        self.encoder = nn.Sequential(
            *(
                nn.Sequential(ResidualBlock(cin, cout, first=index == 0))
                for index, (cin, cout) in enumerate(config.encoder_channels)
            )
        )

        self.pos_S = nn.Parameter(torch.randn(1, config.spectral_nodes, gat_in))
        self.master1 = nn.Parameter(torch.randn(1, 1, graph_dim))
        self.master2 = nn.Parameter(torch.randn(1, 1, graph_dim))

        self.GAT_layer_S = GraphAttentionLayer(gat_in, graph_dim, temperature=temp_spectral)
        self.GAT_layer_T = GraphAttentionLayer(gat_in, graph_dim, temperature=temp_temporal)
        self.pool_S = GraphPool(pool_spectral, graph_dim)
        self.pool_T = GraphPool(pool_temporal, graph_dim)

        # Two parallel HS-GAL branches (ST1x and ST2x), each: HS-GAL -> pool -> HS-GAL (residual).
        self.HtrgGAT_layer_ST11 = HeterogeneousGraphAttentionLayer(graph_dim, hsgal_dim, temp_hsgal)
        self.HtrgGAT_layer_ST12 = HeterogeneousGraphAttentionLayer(hsgal_dim, hsgal_dim, temp_hsgal)
        self.HtrgGAT_layer_ST21 = HeterogeneousGraphAttentionLayer(graph_dim, hsgal_dim, temp_hsgal)
        self.HtrgGAT_layer_ST22 = HeterogeneousGraphAttentionLayer(hsgal_dim, hsgal_dim, temp_hsgal)
        self.pool_hS1 = GraphPool(pool_hsgal, hsgal_dim)
        self.pool_hT1 = GraphPool(pool_hsgal, hsgal_dim)
        self.pool_hS2 = GraphPool(pool_hsgal, hsgal_dim)
        self.pool_hT2 = GraphPool(pool_hsgal, hsgal_dim)

        self.drop_way = nn.Dropout(0.2)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(5 * hsgal_dim, 2)

    def forward(self, waveform: Tensor) -> Tensor:
        spectro = self.conv_time(waveform)  # (B, filters, T')
        spectro = F.max_pool2d(spectro.abs().unsqueeze(1), (3, 3))  # (B, 1, filters/3, T'/3)
        features = self.encoder(self.selu(self.first_bn(spectro)))  # (B, C, F, T)

        magnitude = features.abs()
        spectral = magnitude.amax(dim=3).transpose(1, 2) + self.pos_S  # (B, F, C)
        temporal = magnitude.amax(dim=2).transpose(1, 2)  # (B, T, C)
        spectral = self.pool_S(self.GAT_layer_S(spectral))
        temporal = self.pool_T(self.GAT_layer_T(temporal))

        temporal1, spectral1, master1 = self._hsgal_branch(
            temporal,
            spectral,
            self.master1,
            self.HtrgGAT_layer_ST11,
            self.HtrgGAT_layer_ST12,
            self.pool_hT1,
            self.pool_hS1,
        )
        temporal2, spectral2, master2 = self._hsgal_branch(
            temporal,
            spectral,
            self.master2,
            self.HtrgGAT_layer_ST21,
            self.HtrgGAT_layer_ST22,
            self.pool_hT2,
            self.pool_hS2,
        )

        # Max graph operation: element-wise maximum of the two branches.
        temporal = torch.maximum(self.drop_way(temporal1), self.drop_way(temporal2))
        spectral = torch.maximum(self.drop_way(spectral1), self.drop_way(spectral2))
        master = torch.maximum(self.drop_way(master1), self.drop_way(master2))

        readout = torch.cat(
            [
                temporal.abs().amax(dim=1),
                temporal.mean(dim=1),
                spectral.abs().amax(dim=1),
                spectral.mean(dim=1),
                master.squeeze(1),
            ],
            dim=1,
        )
        return self.out_layer(self.drop(readout))

    @staticmethod
    def _hsgal_branch(
        temporal: Tensor,
        spectral: Tensor,
        master: Tensor,
        first: HeterogeneousGraphAttentionLayer,
        second: HeterogeneousGraphAttentionLayer,
        pool_temporal: GraphPool,
        pool_spectral: GraphPool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """HS-GAL, graph pooling, then a second HS-GAL added as a residual (temporal = type 1)."""
        temporal, spectral, master = first(temporal, spectral, master)
        temporal, spectral = pool_temporal(temporal), pool_spectral(spectral)
        temporal_aug, spectral_aug, master_aug = second(temporal, spectral, master)
        return temporal + temporal_aug, spectral + spectral_aug, master + master_aug


def fit_window(audio: np.ndarray, nb_samp: int) -> np.ndarray:
    """First `nb_samp` samples of `audio`; a shorter clip is tiled (repeated) to fill the window."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size == 0:
        raise ValueError("empty audio")
    if audio.size < nb_samp:
        audio = np.tile(audio, -(-nb_samp // audio.size))
    return audio[:nb_samp]


def _read_state_dict(checkpoint: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on foreign bytes (IndexError, UnpicklingError...)
        raise ValueError(f"{checkpoint} is not a PyTorch state dict: {exc}") from exc
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in state.items()
    ):
        raise ValueError(f"{checkpoint} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


def load_aasist(checkpoint: Path, config: Path | None = None) -> Aasist:
    """AASIST in eval mode with the weights of `checkpoint`, loaded strictly.

    `config` defaults to the `.conf` file beside the checkpoint with the same stem. ValueError when
    the checkpoint is not an AASIST state dict matching the config.
    """
    checkpoint = Path(checkpoint)
    config_path = Path(config) if config is not None else checkpoint.with_suffix(".conf")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"AASIST checkpoint {checkpoint} does not exist")
    if not config_path.is_file():
        raise FileNotFoundError(f"AASIST config {config_path} does not exist (pass the .conf file explicitly)")
    model = Aasist(AasistConfig.from_file(config_path))
    state = _read_state_dict(checkpoint)

    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{checkpoint} is not an AASIST state dict for {config_path.name}: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    wrong_shapes = [
        f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if state[key].shape != value.shape
    ]
    if wrong_shapes:
        raise ValueError(
            f"{checkpoint} does not match the dimensions in {config_path.name}: {', '.join(wrong_shapes[:3])}"
        )
    model.load_state_dict(state, strict=True)
    non_finite = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if non_finite:
        raise ValueError(f"{checkpoint} has non-finite weights in {non_finite[:3]}")
    return model.eval()


def bonafide_probability(logits: Tensor) -> Tensor:
    """Softmax probability of the bona fide class per row of (B, 2) logits."""
    return torch.softmax(logits.double(), dim=-1)[:, BONAFIDE]
