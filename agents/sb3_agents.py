"""Stable-Baselines3 PPO and A2C and sb3-contrib RecurrentPPO behind the agents' shared interface.

SB3 is an optional extra (``pip install -e .[sb3]``) and is imported only when such an agent is
built. These agents save with SB3's own zip format (SB3 owns it and reads it back with its own
checks) rather than :mod:`asg_gym.checkpoint`. Given an SB3 vector env (:func:`make_vec_env`),
an agent steps its envs together, and the training callback sees one record per env step.

Resuming: SB3's zip holds the parameters, the optimizer and the counters, but no rollout in progress
and not the random generators SB3 samples from (the process-wide ones of Python, NumPy and torch;
SB3's ``load`` reseeds them with the agent's seed and has its env's next reset reuse that seed). So
:meth:`SB3Agent.save` adds those generators and, on one env, that env's generator as it was before
the episode that begins next; :meth:`SB3Agent.load` with an env puts them back. An agent saved
between two ``learn`` calls (a rollout boundary) that is also between two episodes
(:attr:`SB3Agent.resumes_exactly`) then trains on bit for bit as it would have without the save.
Saved in the middle of an episode it cannot: the episode's past actions and the env's state are in
no file, so it starts a new episode (the benchmark does not checkpoint it there); nor on a vector
env, whose envs' generators are not saved.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from agents.rollouts import episode_limit
from agents.training import StepCallback, StepRecord, asg_num_coordinates

_EPISODES_ATTRIBUTE = "asg_num_episodes"  # stored on the SB3 model, so it travels in its zip
_RESUME_ATTRIBUTE = "asg_resume"  # the random generators at the save (module docstring), in the zip too
EnvOrVecEnv = Any
"""A ``gym.Env`` or an SB3 ``VecEnv`` (SB3 is optional, so its types are not imported here)."""


def _import(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ImportError(f"{name} needs the optional SB3 dependencies: pip install -e .[sb3] ({exc})") from exc


def _callback_adapter(agent: SB3Agent, callback: StepCallback | None, bar: Any) -> Any:
    """An SB3 ``BaseCallback`` that turns SB3's per-step locals into :class:`StepRecord` calls."""
    base_callback = _import("stable_baselines3.common.callbacks", "BaseCallback")

    class StepCallbackAdapter(base_callback):  # type: ignore[misc, valid-type]  # SB3 is an optional import
        def __init__(self) -> None:
            super().__init__()
            self.rollouts = 0
            self.pending_update: dict[str, float] | None = None
            # env index → per-coordinate entropies of its episode so far (on the agent: episodes span learn calls)
            self.entropy_sums: dict[int, np.ndarray] = agent.__dict__.setdefault("_entropy_sums", {})

        def _on_rollout_start(self) -> None:
            # Called after each policy update: SB3's logger still holds that update's train/… values.
            if self.rollouts:
                values = self.model.logger.name_to_value
                self.pending_update = {"losses/" + k.split("/", 1)[1]: float(v) for k, v in values.items()
                                       if k.startswith("train/")}
            self.rollouts += 1

        def _step_entropies(self) -> np.ndarray | None:
            """(envs, C): the entropy of each coordinate's distribution the step's actions were sampled from.

            One extra policy forward, no sampling, so training is unchanged. A recurrent policy's distribution
            depends on its LSTM state too: at this point of sb3-contrib's rollout the model still holds the
            state the step's actions were sampled with (it moves on after the callback).
            """
            obs = self.locals.get("obs_tensor")
            if obs is None:
                return None
            import torch

            with torch.no_grad():
                if "lstm_states" in self.locals:
                    distribution = self.model.policy.get_distribution(
                        obs, self.model._last_lstm_states.pi, self.locals["episode_starts"])[0].distribution
                else:
                    distribution = self.model.policy.get_distribution(obs).distribution
            return torch.stack([d.entropy() for d in distribution], dim=-1).double().cpu().numpy()

        def _on_step(self) -> bool:
            dones, infos, rewards = self.locals["dones"], self.locals["infos"], self.locals["rewards"]
            envs, keep = len(dones), True
            entropies = self._step_entropies()
            for i in range(envs):  # one record per env; all of them see the callback before a stop
                done, info = bool(dones[i]), dict(infos[i])
                agent.num_episodes += int(done)
                episode = info.get("episode") if done else None  # written by SB3's Monitor wrapper
                episode_entropy = None
                if entropies is not None:
                    self.entropy_sums[i] = self.entropy_sums.get(i, 0.0) + entropies[i]
                    if episode is not None:
                        episode_entropy = (self.entropy_sums.pop(i) / int(episode["l"])).tolist()
                record = StepRecord(
                    self.model.num_timesteps - envs + i + 1, agent.num_episodes, float(rewards[i]), done, info,
                    episode_return=None if episode is None else float(episode["r"]),
                    episode_length=None if episode is None else int(episode["l"]),
                    episode_entropy=episode_entropy,
                    update=self.pending_update if i == envs - 1 else None, num_updates=max(self.rollouts - 1, 0),
                )
                bar.update(1)
                keep = (callback is None or callback(record) is not False) and keep
            self.pending_update = None
            return keep

    return StepCallbackAdapter()


class RepeatableResets(gym.Wrapper):
    """Keeps the env's generator as it was before the latest reset, so that the reset can be made again.

    SB3 resets its env between episodes without a seed, so each episode is drawn from the env's own
    generator; after a load it would reset it with the agent's seed instead. :meth:`repeat` makes the
    next reset, whatever seed it is given, draw from a state kept by an earlier one.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.generator_state: dict[str, Any] | None = None
        """The env's generator before the latest reset (``None`` before any, or after a seeded one)."""
        self._repeat: dict[str, Any] | None = None

    def repeat(self, generator_state: dict[str, Any]) -> None:
        """Make the next reset the one that found the env's generator in ``generator_state``."""
        self._repeat = generator_state

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if self._repeat is not None:
            generator = np.random.Generator(getattr(np.random, self._repeat["bit_generator"])())
            generator.bit_generator.state = self._repeat
            self.env.unwrapped.np_random, seed, self._repeat = generator, None, None
        self.generator_state = None if seed is not None else dict(self.env.unwrapped.np_random.bit_generator.state)
        return self.env.reset(seed=seed, options=options)


def global_generators() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's process-wide generators (SB3 samples from them)."""
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_global_generators(states: dict[str, Any]) -> None:
    """Put back :func:`global_generators`' states."""
    import torch

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))  # a tuple again if it went through JSON
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


class SB3Agent:
    """One SB3 algorithm on an ASG-layout env; ``learn``/``predict``/``save``/``load`` as the other agents.

    Defaults are sized for expensive envs (one step is one or more SGD steps of a CNN): short
    rollouts, so the policy updates within the first episode. Any other keyword goes to the SB3
    constructor. SB3 trains in whole rollouts, so ``learn(n)`` may take up to ``n_steps - 1`` more steps.
    """

    module: ClassVar[str]
    algorithm: ClassVar[str]
    policy_name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]

    def __init__(self, env: EnvOrVecEnv, *, seed: int | None = None, **kwargs: Any) -> None:
        asg_num_coordinates(env.observation_space, env.action_space)
        algorithm = _import(self.module, self.algorithm)
        self.resets = RepeatableResets(env) if isinstance(env, gym.Env) else None  # None: a vector env
        self.model = algorithm(self.policy_name, env if self.resets is None else self.resets, seed=seed,
                               **{"device": "cpu", **self.defaults, **kwargs})
        self.num_episodes = 0

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def resumes_exactly(self) -> bool:
        """Whether :meth:`save` now and :meth:`load` would train on bit for bit: one env, between two episodes."""
        return (self.resets is not None and self.resets.generator_state is not None
                and bool(np.all(self.model._last_episode_starts)))

    def learn(self, total_timesteps: int, callback: StepCallback | None = None,
              progress_bar: bool = False) -> SB3Agent:
        """Train for ``total_timesteps`` more env steps; ``callback`` as in ``ReinforceLSTMAgent.learn``."""
        from tqdm.auto import tqdm

        with tqdm(total=total_timesteps, disable=not progress_bar, unit="step") as bar:
            # reset_num_timesteps=False: counters carry over, as for the REINFORCE agent.
            self.model.learn(total_timesteps, callback=_callback_adapter(self, callback, bar),
                             reset_num_timesteps=False)
        return self

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """SB3's ``predict`` (``state`` is the LSTM state for RecurrentPPO, ``None`` otherwise)."""
        return self.model.predict(observation, state=state, episode_start=episode_start,
                                  deterministic=deterministic)

    def save(self, path: str | Path) -> Path:
        """SB3's zip (parameters, optimizer, hyper-parameters); returns the written path."""
        path = Path(path)
        path = path if path.suffix == ".zip" else path.with_name(path.name + ".zip")
        path.parent.mkdir(parents=True, exist_ok=True)
        setattr(self.model, _EPISODES_ATTRIBUTE, self.num_episodes)
        setattr(self.model, _RESUME_ATTRIBUTE, {
            "generators": global_generators(),
            "next_reset": self.resets.generator_state if self.resets is not None and self.resumes_exactly else None})
        self.model.save(path)
        return path

    @classmethod
    def load(cls, path: str | Path, env: EnvOrVecEnv | None = None) -> SB3Agent:
        """A new agent from :meth:`save`'s zip; pass ``env`` to go on learning (then the process-wide random
        generators are set to their states at the save: see the module docstring)."""
        if env is not None:
            asg_num_coordinates(env.observation_space, env.action_space)
        algorithm = _import(cls.module, cls.algorithm)
        agent = cls.__new__(cls)
        agent.resets = RepeatableResets(env) if isinstance(env, gym.Env) else None
        agent.model = algorithm.load(path, env=env if agent.resets is None else agent.resets, device="cpu")
        agent.num_episodes = int(getattr(agent.model, _EPISODES_ATTRIBUTE, 0))
        resume = getattr(agent.model, _RESUME_ATTRIBUTE, None)  # absent in zips saved before it
        if env is not None and resume is not None:
            set_global_generators(resume["generators"])  # after SB3's load, which reseeds them
            if agent.resets is not None and resume["next_reset"] is not None:
                agent.resets.repeat(resume["next_reset"])  # SB3 resets the env before its first step
        return agent


class PPOAgent(SB3Agent):
    """SB3 PPO with an MLP policy."""

    module, algorithm, policy_name = "stable_baselines3", "PPO", "MlpPolicy"
    defaults: ClassVar[dict[str, Any]] = {"n_steps": 32, "batch_size": 32, "n_epochs": 4}


class A2CAgent(SB3Agent):
    """SB3 A2C with an MLP policy (SB3's default 5-step rollouts, like the paper's U = 5)."""

    module, algorithm, policy_name = "stable_baselines3", "A2C", "MlpPolicy"
    defaults: ClassVar[dict[str, Any]] = {"n_steps": 5}


class RecurrentPPOAgent(SB3Agent):
    """sb3-contrib RecurrentPPO with an LSTM policy: the closest SB3 relative of the paper's controller."""

    module, algorithm, policy_name = "sb3_contrib", "RecurrentPPO", "MlpLstmPolicy"
    defaults: ClassVar[dict[str, Any]] = {"n_steps": 32, "batch_size": 32, "n_epochs": 4}


class EpisodeLimit(gym.Wrapper):
    """Outside SB3's ``Monitor``, whose own ``total_steps`` (steps so far) hides the ASG env's: the
    episode length as ``asg_episode_limit`` (``vec_env.get_attr("asg_episode_limit")``)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.asg_episode_limit = episode_limit(env)


def make_vec_env(make_env: Callable[[], gym.Env], num_envs: int, subprocesses: bool = True) -> Any:
    """An SB3 vector env of ``num_envs`` envs built by ``make_env`` (each in SB3's ``Monitor`` and
    :class:`EpisodeLimit`): a ``SubprocVecEnv`` (forked workers, safe since :mod:`asg_gym.threads`),
    or a ``DummyVecEnv`` stepping them in this process when ``subprocesses`` is False."""
    build = _import("stable_baselines3.common.env_util", "make_vec_env")
    vec_env = _import("stable_baselines3.common.vec_env", "SubprocVecEnv" if subprocesses else "DummyVecEnv")
    return build(make_env, n_envs=num_envs, vec_env_cls=vec_env, wrapper_class=EpisodeLimit,
                 vec_env_kwargs={"start_method": "fork"} if subprocesses else None)
