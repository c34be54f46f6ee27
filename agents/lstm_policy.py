"""The paper's policy network (Fig. 4): one LSTM per scalar observation feature, one head per coordinate."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from asg_gym.spaces import NUM_SCALAR_FEATURES, NUM_SCALES

LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (5 encoders, batch, hidden)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the policy's tiny tensor ops on one CPU thread, then restore the setting for the env.

    At this size intra-op threads only add synchronisation: on a busy 2-core machine a softmax
    over (1, 3, 11) took ~3 ms with 2 threads and a few µs with 1.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ReinforceLSTMPolicy(nn.Module):
    """π(a_t | s_t, h_t) of the paper's Fig. 4.

    Each of the 5 scalar features (L_XE, L_KL, t/T, mean θ_n, std θ_n) has its own single-layer
    LSTM (input 1, hidden ``hidden_size``). Coordinate c's head reads the concatenated encodings
    plus a_{t-1,c} and gives 11 logits; coordinates are sampled independently given the state.

    ``initial_logit_slope`` β sets each head's initial bias to ``−β·k`` for scale index k, so the
    untrained policy draws scale k with probability ∝ exp(−β·k): 0 is the uniform start; β > 0 a prior
    towards small scales, the usual fine-tuning prior for pretrained layers (the heads' weights are
    small, so this is the policy's distribution at every state until it learns).
    """

    def __init__(self, num_coordinates: int, hidden_size: int = 20, head_gain: float = 0.01,
                 generator: torch.Generator | None = None, lstm_init: str = "pytorch",
                 initial_logit_slope: float = 0.0) -> None:
        super().__init__()
        if not math.isfinite(initial_logit_slope):
            raise ValueError(f"initial_logit_slope must be a finite number, got {initial_logit_slope}")
        self.num_coordinates, self.hidden_size = num_coordinates, hidden_size
        # nn.LSTMCell: the same single-layer LSTM (same parameters) as nn.LSTM, stepped by hand,
        # which on CPU avoids nn.LSTM's multi-threaded kernel (10× slower at this size under load).
        self.encoders = nn.ModuleList(nn.LSTMCell(1, hidden_size) for _ in range(NUM_SCALAR_FEATURES))
        head_inputs = NUM_SCALAR_FEATURES * hidden_size + 1
        self.heads = nn.ModuleList(nn.Linear(head_inputs, NUM_SCALES) for _ in range(num_coordinates))
        if lstm_init == "pytorch":  # PyTorch's default LSTM init, drawn from the agent's generator (no global RNG)
            bound = 1 / math.sqrt(hidden_size)
            for param in self.encoders.parameters():
                nn.init.uniform_(param, -bound, bound, generator=generator)
        elif lstm_init == "reference":  # the released code's: orthogonal weights, zero biases
            for name, param in self.encoders.named_parameters():
                if "bias" in name:
                    nn.init.zeros_(param)
                else:
                    nn.init.orthogonal_(param, generator=generator)
        else:
            raise ValueError(f"lstm_init must be 'pytorch' or 'reference', got {lstm_init!r}")
        # Small-gain orthogonal heads: the initial policy is close to softmax(bias), uniform when β = 0.
        prior = float(initial_logit_slope) * torch.arange(NUM_SCALES, dtype=torch.float32)
        for head in self.heads:
            assert isinstance(head, nn.Linear)
            nn.init.orthogonal_(head.weight, gain=head_gain, generator=generator)
            nn.init.zeros_(head.bias)
            with torch.no_grad():
                head.bias.sub_(prior)  # 0 - 0 = +0: β = 0 is the earlier init, bit for bit

    def initial_state(self, batch_size: int) -> LSTMState:
        """h_0 = c_0 = 0 (Algorithm 1, line 1)."""
        zeros = torch.zeros(NUM_SCALAR_FEATURES, batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, inputs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """``inputs`` (T, B, 5 + C) → logits (T, B, C, 11) and the state after the T steps."""
        h, c = list(state[0].unbind(0)), list(state[1].unbind(0))
        encodings = []
        for x in inputs:  # one time step at a time, one LSTM per scalar feature
            for k, encoder in enumerate(self.encoders):
                h[k], c[k] = encoder(x[:, k:k + 1], (h[k], c[k]))
            encodings.append(torch.cat(h, dim=-1))
        encoding = torch.stack(encodings)
        previous_scales = inputs[..., NUM_SCALAR_FEATURES:]
        logits = torch.stack(
            [head(torch.cat([encoding, previous_scales[..., c:c + 1]], dim=-1)) for c, head in enumerate(self.heads)],
            dim=-2,
        )
        return logits, (torch.stack(h), torch.stack(c))

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(a_t | s_t) of the joint action: the sum of the C per-coordinate log-probabilities."""
        per_coordinate = torch.log_softmax(logits, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return per_coordinate.sum(dim=-1)

    @staticmethod
    def coordinate_entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy (nats) of each coordinate's distribution: ``logits (..., C, 11)`` → ``(..., C)``."""
        log_p = torch.log_softmax(logits, dim=-1)
        return -(log_p.exp() * log_p).sum(dim=-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy of the joint action distribution (coordinates are independent given the state)."""
        return ReinforceLSTMPolicy.coordinate_entropy(logits).sum(dim=-1)


class RunningNormalizer:
    """Running mean/std of the 5 scalar features (Welford), clipped to ±``clip`` standard deviations."""

    def __init__(self, clip: float = 5.0) -> None:
        self.clip = clip
        self.count = 0
        self.mean = np.zeros(NUM_SCALAR_FEATURES)
        self.m2 = np.zeros(NUM_SCALAR_FEATURES)

    def update(self, features: np.ndarray) -> None:
        self.count += 1
        delta = features - self.mean
        self.mean = self.mean + delta / self.count
        self.m2 = self.m2 + delta * (features - self.mean)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        if self.count < 2:
            return features
        std = np.sqrt(self.m2 / (self.count - 1) + 1e-12)
        return np.clip((features - self.mean) / std, -self.clip, self.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"clip": self.clip, "count": self.count, "mean": torch.from_numpy(self.mean),
                "m2": torch.from_numpy(self.m2)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clip, self.count = float(state["clip"]), int(state["count"])
        self.mean, self.m2 = state["mean"].numpy().copy(), state["m2"].numpy().copy()
