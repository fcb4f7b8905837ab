"""The building blocks of AASIST: the fixed sinc front end, the residual encoder block, and the graph
attention and graph pooling layers. Submodule and parameter names match the public checkpoints'
state-dict keys (clovaai/aasist)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_RATE = 16_000


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def sinc_filterbank(num_filters: int, kernel_size: int, sample_rate: int = SAMPLE_RATE) -> Tensor:
    """Fixed band-pass FIR filters, (num_filters, kernel_size) float32.

    The band edges split 0 Hz .. Nyquist into `num_filters` bands of equal width on the mel scale.
    Each filter is the difference of two ideal low-pass impulse responses (windowed-sinc design),
    2 f_hi/fs sinc(2 f_hi n/fs) - 2 f_lo/fs sinc(2 f_lo n/fs) with normalised sinc and symmetric
    taps n = -(K-1)/2 .. (K-1)/2, times a symmetric Hamming window. Computed in float64.
    """
    if kernel_size % 2 == 0:
        raise ValueError("the sinc kernel must have an odd number of taps")
    nyquist = sample_rate / 2
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(np.float64(0.0)), hz_to_mel(np.float64(nyquist)), num_filters + 1))
    edges = torch.from_numpy(edges_hz).to(torch.float64)
    half = (kernel_size - 1) // 2
    taps = torch.arange(-half, half + 1, dtype=torch.float64)

    def ideal_lowpass(cutoff_hz: Tensor) -> Tensor:
        normalised = 2.0 * cutoff_hz[:, None] / sample_rate  # cutoff as a fraction of Nyquist
        return normalised * torch.sinc(normalised * taps[None, :])

    ideal_bandpass = ideal_lowpass(edges[1:]) - ideal_lowpass(edges[:-1])
    window = torch.hamming_window(kernel_size, periodic=False, dtype=torch.float64)
    return (ideal_bandpass * window).to(torch.float32)


class SincFrontEnd(nn.Module):
    """Fixed sinc filterbank convolution: (B, T) waveform -> (B, filters, T - K + 1)."""

    filters: Tensor

    def __init__(self, num_filters: int, kernel_size: int, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        self.kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        # Not persistent: the filters are computed, never loaded (the checkpoints have none).
        bank = sinc_filterbank(num_filters, self.kernel_size, sample_rate)
        self.register_buffer("filters", bank.unsqueeze(1), persistent=False)

    def forward(self, waveform: Tensor) -> Tensor:
        return F.conv1d(waveform.unsqueeze(1), self.filters)


class ResidualBlock(nn.Module):
    """2-D residual block: conv(2x3) -> BN -> SELU -> conv(2x3), plus a 1x3 conv shortcut when the
    channel count changes, then a 1x3 max pool over time. Keeps the frequency size.

    `bn1` exists (and is loaded) for every block but the first, but it is not applied: the
    published checkpoints were trained with a forward pass that computes and discards it.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool = False) -> None:
        super().__init__()
        if not first:
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.selu = nn.SELU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        self.conv_downsample: nn.Conv2d | None = None
        if in_channels != out_channels:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
        self.mp = nn.MaxPool2d((1, 3))

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.selu(self.bn2(self.conv1(x))))
        shortcut = x if self.conv_downsample is None else self.conv_downsample(x)
        return self.mp(out + shortcut)


def pairwise_products(nodes: Tensor) -> Tensor:
    """(B, N, D) -> (B, N, N, D) with [b, i, j] = nodes[b, i] * nodes[b, j]."""
    return nodes.unsqueeze(2) * nodes.unsqueeze(1)


def batch_norm_nodes(bn: nn.BatchNorm1d, nodes: Tensor) -> Tensor:
    """Batch norm over the feature axis of (B, N, D) node features, nodes treated as samples."""
    batch, count, dim = nodes.shape
    return bn(nodes.reshape(-1, dim)).reshape(batch, count, dim)


class GraphAttentionLayer(nn.Module):
    """Graph attention over a fully connected graph: (B, N, in_dim) -> (B, N, out_dim).

    Edge weight i->j: softmax_j(w . tanh(W_a (h_i * h_j)) / temperature); each node becomes
    W_1 (sum_j a_ij h_j) + W_2 h_i, then batch norm and SELU.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = nn.Parameter(torch.empty(out_dim, 1))
        nn.init.xavier_normal_(self.att_weight)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temperature = temperature

    def forward(self, nodes: Tensor) -> Tensor:
        nodes = self.input_drop(nodes)
        edge_features = torch.tanh(self.att_proj(pairwise_products(nodes)))
        scores = torch.matmul(edge_features, self.att_weight).squeeze(-1) / self.temperature
        attention = F.softmax(scores, dim=-1)  # (B, N, N), rows sum to 1 over neighbours j
        out = self.proj_with_att(torch.matmul(attention, nodes)) + self.proj_without_att(nodes)
        return self.act(batch_norm_nodes(self.bn, out))


class HeterogeneousGraphAttentionLayer(nn.Module):
    """HS-GAL: graph attention over two node types joined into one graph, plus a master node.

    Both node sets are first projected to a common space (one linear map per type). Edges inside
    type 1, inside type 2 and between the types each have their own attention vector. The master
    node attends to every node (directed edges, no batch norm or activation on it).
    Returns the updated (type 1, type 2, master) nodes.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight22 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight12 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weightM = nn.Parameter(torch.empty(out_dim, 1))
        for weight in (self.att_weight11, self.att_weight22, self.att_weight12, self.att_weightM):
            nn.init.xavier_normal_(weight)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temperature = temperature

    def forward(self, type1: Tensor, type2: Tensor, master: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        count1, count2 = type1.shape[1], type2.shape[1]
        nodes = torch.cat([self.proj_type1(type1), self.proj_type2(type2)], dim=1)
        nodes = self.input_drop(nodes)

        new_master = self._update_master(nodes, master)
        attention = self._node_attention(nodes, count1, count2)
        out = self.proj_with_att(torch.matmul(attention, nodes)) + self.proj_without_att(nodes)
        out = self.act(batch_norm_nodes(self.bn, out))
        return out[:, :count1], out[:, count1 : count1 + count2], new_master

    def _node_attention(self, nodes: Tensor, count1: int, count2: int) -> Tensor:
        """(B, N, N) attention, softmax over neighbours, with one attention vector per edge type."""
        edge_features = torch.tanh(self.att_proj(pairwise_products(nodes)))
        scores_11 = torch.matmul(edge_features, self.att_weight11).squeeze(-1)
        scores_22 = torch.matmul(edge_features, self.att_weight22).squeeze(-1)
        scores_12 = torch.matmul(edge_features, self.att_weight12).squeeze(-1)
        # Edge types from the (static) node counts: both ends type 1, both type 2, or one of each.
        is_type2 = torch.cat([torch.zeros(count1, dtype=torch.bool), torch.ones(count2, dtype=torch.bool)])
        is_type2 = is_type2.to(nodes.device)
        both_type1 = ~is_type2[:, None] & ~is_type2[None, :]
        both_type2 = is_type2[:, None] & is_type2[None, :]
        scores = torch.where(both_type1, scores_11, torch.where(both_type2, scores_22, scores_12))
        return F.softmax(scores / self.temperature, dim=-1)

    def _update_master(self, nodes: Tensor, master: Tensor) -> Tensor:
        """(B or 1, 1, D) master node: attention over all nodes plus a projection of itself."""
        edge_features = torch.tanh(self.att_projM(nodes * master))
        scores = torch.matmul(edge_features, self.att_weightM).squeeze(-1) / self.temperature  # (B, N)
        attention = F.softmax(scores, dim=-1).unsqueeze(1)  # (B, 1, N)
        return self.proj_with_attM(torch.matmul(attention, nodes)) + self.proj_without_attM(master)


class GraphPool(nn.Module):
    """Graph pooling (Gao & Ji, 2019): keep the `ratio` best-scored nodes, each scaled by its score.

    Score = sigmoid(linear(node)); kept nodes are ordered by descending score (as torch.topk
    returns them), which matters because the two HS-GAL branches are merged element-wise.
    """

    def __init__(self, ratio: float, in_dim: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def kept(self, count: int) -> int:
        """How many of `count` nodes survive."""
        return max(int(count * self.ratio), 1)

    def forward(self, nodes: Tensor) -> Tensor:
        scores = torch.sigmoid(self.proj(self.drop(nodes)))  # (B, N, 1)
        _, index = torch.topk(scores, self.kept(nodes.shape[1]), dim=1)
        return torch.gather(nodes * scores, 1, index.expand(-1, -1, nodes.shape[-1]))
