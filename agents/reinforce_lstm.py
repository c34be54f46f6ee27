"""The paper's RL-L2O agent: the LSTM policy of Fig. 4 trained by REINFORCE (Eq. 7, Algorithm 1)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.lstm_policy import LSTMState, ReinforceLSTMPolicy, RunningNormalizer, one_thread
from agents.training import StepCallback, StepRecord, asg_num_coordinates
from asg_gym.checkpoint import load_checkpoint, save_checkpoint
from asg_gym.spaces import NUM_SCALAR_FEATURES, NUM_SCALES

CHECKPOINT_KIND = "reinforce_lstm"


@dataclass
class _Episode:
    """The episode in progress: enough to rebuild the env's state by replaying it from its seed."""

    seed: int
    observation: np.ndarray
    actions: list[np.ndarray] = field(default_factory=list)
    episode_return: float = 0.0
    needs_replay: bool = False


@dataclass
class _Unroll:
    """The U steps since the last update (Algorithm 1's ``storage``)."""

    start_state: LSTMState | None = None
    inputs: list[torch.Tensor] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)


def discounted_returns(rewards: list[float], gamma: float) -> torch.Tensor:
    """G_t = r_t + γ G_{t+1} within one unroll; γ = 0 gives the paper's immediate reward r_t."""
    returns, running = [], 0.0
    for reward in reversed(rewards):
        running = reward + gamma * running
        returns.append(running)
    return torch.tensor(returns[::-1], dtype=torch.float32)


class ReinforceLSTMAgent:
    """The reference RL-L2O agent of the paper (§3.3, Fig. 4, Eq. 7, Algorithm 1).

    Acts on any env with the ASG layout (``Box(5 + C,)`` observations, ``MultiDiscrete([11] * C)``
    actions). ``learn`` samples a_t ~ π, and every ``unroll_length`` steps (and at episode end)
    minimises ``-(1/U) Σ_t G_t · log π(a_t | s_t)`` by SGD, with G_t = r_t unless ``gamma > 0``.
    The LSTM state is carried (detached) across unrolls and zeroed at each episode start.
    Episode k of training is reset with seed ``seed + k``, so a resumed run sees the same episodes.

    Arguments (paper defaults): ``hidden_size`` 20, ``unroll_length`` U = 5, ``learning_rate`` 0.5
    and ``momentum`` 0.9 (SGD, as the reference code), ``gamma`` 0 (immediate reward; > 0: returns
    discounted within the unroll), ``head_gain`` 0.01 (orthogonal init), ``max_grad_norm`` None (no
    clipping), ``seed`` (parameters, sampling and episode seeds; drawn and recorded when None).
    Without ``env`` (``num_coordinates`` given) the agent can only ``predict``.

    ``normalize_observations`` (default off, as in the paper) passes the 5 scalar features through
    running mean/std statistics, updated during ``learn`` only and saved with the agent. Raw, they
    differ by orders of magnitude (L_XE ~2.3, mean θ_n ~5e-4, std θ_n ~2.5e-2 on ASG-Digits), so
    the weight statistics reach the LSTM gates ~1000× weaker than the loss; whether that matters
    for the paper's settings has not been measured, so the faithful raw input stays the default.
    """

    def __init__(
        self,
        env: gym.Env | None = None,
        *,
        num_coordinates: int | None = None,
        hidden_size: int = 20,
        unroll_length: int = 5,
        learning_rate: float = 0.5,
        momentum: float = 0.9,
        gamma: float = 0.0,
        head_gain: float = 0.01,
        normalize_observations: bool = False,
        max_grad_norm: float | None = None,
        seed: int | None = None,
    ) -> None:
        if env is not None:
            c = asg_num_coordinates(env.observation_space, env.action_space)
            if num_coordinates is not None and num_coordinates != c:
                raise ValueError(f"num_coordinates={num_coordinates} but the env has C = {c} coordinates")
            num_coordinates = c
        if num_coordinates is None or num_coordinates < 1:
            raise ValueError(f"give an env or num_coordinates >= 1, got env=None, num_coordinates={num_coordinates}")
        if hidden_size < 1 or unroll_length < 1:
            raise ValueError(f"hidden_size and unroll_length must be >= 1, got {hidden_size}, {unroll_length}")
        if learning_rate <= 0 or not 0 <= momentum < 1 or not 0 <= gamma <= 1 or head_gain <= 0:
            raise ValueError("need learning_rate > 0, 0 <= momentum < 1, 0 <= gamma <= 1, head_gain > 0; got "
                             f"{learning_rate}, {momentum}, {gamma}, {head_gain}")
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive or None, got {max_grad_norm}")
        if seed is None:  # still recorded, so the run can be resumed and repeated
            seed = int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
        self.env = env
        self.num_coordinates, self.unroll_length, self.seed = int(num_coordinates), int(unroll_length), int(seed)
        self.gamma, self.max_grad_norm = float(gamma), max_grad_norm
        self.config: dict[str, Any] = dict(
            num_coordinates=self.num_coordinates, hidden_size=hidden_size, unroll_length=unroll_length,
            learning_rate=learning_rate, momentum=momentum, gamma=gamma, head_gain=head_gain,
            normalize_observations=normalize_observations, max_grad_norm=max_grad_norm, seed=self.seed,
        )
        self.generator = torch.Generator().manual_seed(self.seed)
        self.policy = ReinforceLSTMPolicy(self.num_coordinates, hidden_size, head_gain, self.generator)
        # The released reference code trains the policy with SGD + momentum 0.9; the paper gives lr 0.5.
        self.optimizer = torch.optim.SGD(self.policy.parameters(), lr=learning_rate, momentum=momentum)
        self.normalizer = RunningNormalizer() if normalize_observations else None
        self.num_timesteps = self.num_updates = self.num_episodes = self.num_skipped_updates = 0
        self._hidden = self.policy.initial_state(1)
        self._episode: _Episode | None = None
        self._unroll = _Unroll()

    @property
    def episode_timesteps(self) -> int:
        """Actions taken in the training episode in progress (0 between episodes)."""
        return 0 if self._episode is None else len(self._episode.actions)

    # ------------------------------------------------------------------------------ acting
    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, np.ndarray] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Action(s) for one observation (5 + C,) or a batch (B, 5 + C), like SB3's ``predict``.

        ``state`` is the LSTM state returned by the previous call (``None`` or ``episode_start``
        True: zero state). ``deterministic`` takes the most probable scale per coordinate.
        Sampling draws from the agent's own generator; learning statistics are not updated.
        """
        obs = np.asarray(observation, dtype=np.float32)
        width = NUM_SCALAR_FEATURES + self.num_coordinates
        if obs.ndim not in (1, 2) or obs.shape[-1] != width:
            raise ValueError(f"observation must have shape ({width},) or (B, {width}), got {obs.shape}")
        batch = obs.reshape(-1, width)
        hidden = self.policy.initial_state(len(batch))
        if state is not None:
            hidden = (torch.as_tensor(state[0]).clone(), torch.as_tensor(state[1]).clone())
            if hidden[0].shape != (NUM_SCALAR_FEATURES, len(batch), self.policy.hidden_size):
                raise ValueError(f"state does not match a batch of {len(batch)}: got shape {tuple(hidden[0].shape)}")
        if episode_start is not None:
            starts = torch.as_tensor(np.atleast_1d(episode_start).astype(bool))
            for part in hidden:
                part[:, starts] = 0.0
        with torch.no_grad(), one_thread():
            logits, (h, c) = self.policy(self._inputs(batch, learning=False)[None], hidden)
            actions = self._choose(logits[0], deterministic)
        return (actions[0] if obs.ndim == 1 else actions), (h.numpy(), c.numpy())

    def _inputs(self, batch: np.ndarray, learning: bool) -> torch.Tensor:
        features = batch.astype(np.float64)
        if self.normalizer is not None:
            if learning:
                for row in features:
                    self.normalizer.update(row[:NUM_SCALAR_FEATURES])
            features[:, :NUM_SCALAR_FEATURES] = self.normalizer(features[:, :NUM_SCALAR_FEATURES])
        return torch.as_tensor(features, dtype=torch.float32)

    def _choose(self, logits: torch.Tensor, deterministic: bool) -> np.ndarray:
        """logits (B, C, 11) → actions (B, C): argmax, or a sample from the agent's generator."""
        if deterministic:
            return logits.argmax(dim=-1).numpy()
        probs = torch.softmax(logits, dim=-1).reshape(-1, NUM_SCALES)
        return torch.multinomial(probs, 1, generator=self.generator).reshape(logits.shape[:-1]).numpy()

    # ---------------------------------------------------------------------------- learning
    def learn(self, total_timesteps: int, callback: StepCallback | None = None,
              progress_bar: bool = False) -> ReinforceLSTMAgent:
        """Train for ``total_timesteps`` more env steps (counters carry over between calls).

        ``callback(record)`` runs after every step; returning ``False`` stops early. After
        :meth:`load` of a checkpoint taken mid-episode, that episode is first replayed from its
        seed with the recorded actions, so training continues exactly where it stopped.
        """
        if self.env is None:
            raise ValueError("this agent has no env: pass one to the constructor or to load(path, env=...)")
        if total_timesteps < 0:
            raise ValueError(f"total_timesteps must be >= 0, got {total_timesteps}")
        from tqdm.auto import tqdm

        with tqdm(total=total_timesteps, disable=not progress_bar, unit="step") as bar:
            for _ in range(total_timesteps):
                if self._episode is None:
                    self._begin_episode()
                elif self._episode.needs_replay:
                    self._replay_episode()
                record = self._learn_step()
                bar.update(1)
                if callback is not None and callback(record) is False:
                    break
        return self

    def _begin_episode(self) -> None:
        assert self.env is not None
        seed = self.seed + self.num_episodes
        observation, _ = self.env.reset(seed=seed)
        self._episode = _Episode(seed, np.asarray(observation, dtype=np.float32))
        self._hidden = self.policy.initial_state(1)  # Algorithm 1: h_0 = 0 for every run

    def _replay_episode(self) -> None:
        """Rebuild the env's state after a resume: same seed, same actions."""
        assert self.env is not None and self._episode is not None
        episode = self._episode
        observation, _ = self.env.reset(seed=episode.seed)
        for action in episode.actions:
            observation, _, terminated, truncated, _ = self.env.step(action)
            if terminated or truncated:
                raise RuntimeError("replaying the interrupted episode ended it early: the env is not deterministic")
        if not np.array_equal(np.asarray(observation, dtype=np.float32), episode.observation):
            warnings.warn("the env did not reproduce the interrupted episode bitwise; the resumed run is not exact",
                          stacklevel=3)
            episode.observation = np.asarray(observation, dtype=np.float32)
        episode.needs_replay = False

    def _learn_step(self) -> StepRecord:
        assert self.env is not None and self._episode is not None
        episode, unroll = self._episode, self._unroll
        if not unroll.actions:
            unroll.start_state = self._hidden
        inputs = self._inputs(episode.observation[None], learning=True)
        with torch.no_grad(), one_thread():  # log π is recomputed with gradients at the update
            logits, self._hidden = self.policy(inputs[None], self._hidden)
            action = self._choose(logits[0], deterministic=False)[0]
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.num_timesteps += 1
        episode.actions.append(action)
        episode.episode_return += float(reward)
        episode.observation = np.asarray(observation, dtype=np.float32)
        unroll.inputs.append(inputs[0])
        unroll.actions.append(action)
        unroll.rewards.append(float(reward))
        done = bool(terminated or truncated)
        update = None
        if done or len(unroll.actions) == self.unroll_length:
            with one_thread():
                update = self._update()
        record = StepRecord(self.num_timesteps, self.num_episodes + int(done), float(reward), done, info,
                            update=update, num_updates=self.num_updates)
        if done:
            record.episode_return, record.episode_length = episode.episode_return, len(episode.actions)
            self.num_episodes += 1
            self._episode = None
        return record

    def _update(self) -> dict[str, float]:
        """Eq. 7 on the stored unroll: replay it from its start state with gradients, one SGD step."""
        unroll = self._unroll
        assert unroll.start_state is not None
        inputs = torch.stack(unroll.inputs)[:, None]
        actions = torch.as_tensor(np.stack(unroll.actions), dtype=torch.int64)[:, None]
        logits, _ = self.policy(inputs, unroll.start_state)
        log_prob = self.policy.log_prob(logits, actions)[:, 0]
        returns = discounted_returns(unroll.rewards, self.gamma)
        # 1/U even for a shorter last unroll of an episode: each step keeps the same weight.
        loss = -(returns * log_prob).sum() / self.unroll_length
        self.optimizer.zero_grad()
        loss.backward()
        max_norm = self.max_grad_norm if self.max_grad_norm is not None else math.inf
        grad_norm = float(nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm))
        if math.isfinite(loss.item()) and math.isfinite(grad_norm):
            self.optimizer.step()
            self.num_updates += 1
        else:  # a diverged optimizee can report huge losses; never let them poison π
            self.num_skipped_updates += 1
            warnings.warn(f"skipped a policy update with a non-finite loss or gradient ({loss.item()}, {grad_norm})",
                          stacklevel=3)
        stats = {
            "losses/policy_loss": loss.item(),
            "losses/entropy": float(self.policy.entropy(logits.detach()).mean()),
            "losses/grad_norm": grad_norm,
            "charts/unroll_mean_reward": float(np.mean(unroll.rewards)),
        }
        self._unroll = _Unroll()
        return stats

    # ------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Atomic checkpoint of everything ``learn`` needs to resume exactly: parameters, optimizer
        momentum, generator state, counters, LSTM state, the unroll and the episode in progress."""
        episode = self._episode
        payload = {
            "config": dict(self.config),
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
            "counters": {"num_timesteps": self.num_timesteps, "num_updates": self.num_updates,
                         "num_episodes": self.num_episodes, "num_skipped_updates": self.num_skipped_updates},
            "hidden": list(self._hidden),
            "episode": None if episode is None else {
                "seed": episode.seed, "observation": torch.from_numpy(episode.observation),
                "actions": _stack_actions(episode.actions, self.num_coordinates),
                "episode_return": episode.episode_return,
            },
            "unroll": {
                "start_state": None if self._unroll.start_state is None else list(self._unroll.start_state),
                "inputs": [x.clone() for x in self._unroll.inputs],
                "actions": _stack_actions(self._unroll.actions, self.num_coordinates),
                "rewards": torch.tensor(self._unroll.rewards, dtype=torch.float64),
            },
        }
        return save_checkpoint(path, CHECKPOINT_KIND, payload)

    @classmethod
    def load(cls, path: str | Path, env: gym.Env | None = None) -> ReinforceLSTMAgent:
        """A new agent from :meth:`save`'s file (read with ``weights_only=True``); ``env`` to go on learning."""
        payload = load_checkpoint(path, CHECKPOINT_KIND)
        agent = cls(env, **payload["config"])
        agent.policy.load_state_dict(payload["policy"])
        agent.optimizer.load_state_dict(payload["optimizer"])
        agent.generator.set_state(payload["generator"])
        if agent.normalizer is not None:
            agent.normalizer.load_state_dict(payload["normalizer"])
        counters = payload["counters"]
        agent.num_timesteps, agent.num_updates = counters["num_timesteps"], counters["num_updates"]
        agent.num_episodes, agent.num_skipped_updates = counters["num_episodes"], counters["num_skipped_updates"]
        agent._hidden = (payload["hidden"][0], payload["hidden"][1])
        if payload["episode"] is not None:
            ep = payload["episode"]
            agent._episode = _Episode(int(ep["seed"]), ep["observation"].numpy().copy(),
                                      list(ep["actions"].numpy()), float(ep["episode_return"]), needs_replay=True)
        unroll = payload["unroll"]
        start = unroll["start_state"]
        agent._unroll = _Unroll(None if start is None else (start[0], start[1]), list(unroll["inputs"]),
                                list(unroll["actions"].numpy()), unroll["rewards"].tolist())
        return agent


def _stack_actions(actions: list[np.ndarray], num_coordinates: int) -> torch.Tensor:
    if not actions:
        return torch.zeros(0, num_coordinates, dtype=torch.int64)
    return torch.as_tensor(np.stack(actions), dtype=torch.int64)
