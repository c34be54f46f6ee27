"""The constant policy whose C scales were tuned by Optuna's TPE within a learning agent's env-step budget.

``learn(total_timesteps)`` runs trials of whole training episodes, each with one constant action
proposed by Optuna's multivariate TPE, as long as another full episode fits in the steps granted
so far (by every ``learn`` call together); ``predict`` then returns the best trial's action. Trial
n's proposal is seeded with ``seed + n`` and depends only on the trials before it, so
``learn(a); learn(b)`` tunes as ``learn(a + b)`` does, and a saved agent (its trials) continues
after ``load`` exactly as it would have without the interruption. The objective is what the env gives
every agent during training: the **episode return** (``L_0 − L_T``, the crash penalty on
divergence; default) or the **final training loss** (``objective="final_loss"``). Never the
target accuracy: real target images must not be used for tuning, as they are not for any other
agent. Episode k of tuning is reset with seed ``seed + k`` (as the REINFORCE agent's), so the
same seed on the same machine and build gives the same trials and the same action.

Optuna is an optional dependency (``pip install asg-gym[benchmark]``), imported by ``learn``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from agents.rollouts import episode_limit
from agents.training import StepCallback, StepRecord, asg_num_coordinates
from asg_gym.checkpoint import write_atomically
from asg_gym.spaces import NUM_SCALES

Objective = Literal["return", "final_loss"]
# A diverged trial has no finite final loss; this stands in for it (observations clip losses at 1e3).
DIVERGED_LOSS = 1e3


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(f"tuned_constant needs Optuna: pip install 'asg-gym[benchmark]' ({exc})") from exc
    return optuna


def episode_length(env: gym.Env) -> int:
    """Actions in one of ``env``'s episodes (:func:`agents.rollouts.episode_limit`), or a clear error."""
    length = episode_limit(env)
    if length is None:
        raise ValueError("cannot tell the episode length of this env: it has no total_steps and no TimeLimit")
    return length


class TunedConstantAgent:
    """One constant action for every step, tuned by TPE on training episodes (see the module docstring).

    Arguments: ``seed`` (TPE's and the episodes'; drawn when None), ``objective`` (``"return"`` or
    ``"final_loss"``), ``n_startup_trials`` (random trials before TPE models the results; Optuna's
    default 10), ``episode_length`` (actions per episode, for envs that do not say: no
    ``total_steps``, no ``TimeLimit``).
    """

    def __init__(self, env: gym.Env, *, seed: int | None = None, objective: Objective = "return",
                 n_startup_trials: int = 10, episode_length: int | None = None) -> None:
        self.num_coordinates = asg_num_coordinates(env.observation_space, env.action_space)
        if objective not in ("return", "final_loss"):
            raise ValueError(f"objective must be 'return' or 'final_loss' (never the target accuracy), got "
                             f"{objective!r}")
        if n_startup_trials < 1 or (episode_length is not None and episode_length < 1):
            raise ValueError(f"n_startup_trials must be >= 1 and episode_length >= 1 or None, got "
                             f"{n_startup_trials}, {episode_length}")
        self.episode_length = episode_length
        self.env, self.objective, self.n_startup_trials = env, objective, n_startup_trials
        self.seed = int(np.random.SeedSequence().generate_state(1)[0] % 2**31) if seed is None else int(seed)
        self.action: np.ndarray | None = None
        self.trials: list[dict[str, Any]] = []  # every trial: action, value, steps
        self._study: Any = None  # one study across learn calls: the best trial of all of them wins
        self.num_timesteps = self.num_episodes = 0
        self.granted_timesteps = 0  # the env steps of every learn call so far

    # ---------------------------------------------------------------------------- learning
    def learn(self, total_timesteps: int, callback: StepCallback | None = None,
              progress_bar: bool = False) -> TunedConstantAgent:
        """Tune with whole episodes while one more fits in the env steps granted so far (this call's included)."""
        optuna = _optuna()
        length = self.episode_length or episode_length(self.env)
        self.granted_timesteps += int(total_timesteps)
        study = self._study = self._study or self._restored_study(optuna)
        stopped = False
        while not stopped and self.num_timesteps + length <= self.granted_timesteps:
            study.sampler = self._sampler(optuna, len(self.trials))
            trial = study.ask()
            action = np.array([trial.suggest_int(f"k{c}", 0, NUM_SCALES - 1) for c in range(self.num_coordinates)])
            value, steps, stopped = self._run_trial(action, callback)
            study.tell(trial, value)
            self.trials.append({"action": action.tolist(), "value": value, "steps": steps})
        if self.trials:  # else too few steps so far for one episode: later calls may add them
            self.action = np.array([study.best_params[f"k{c}"] for c in range(self.num_coordinates)],
                                   dtype=np.int64)
        return self

    def _sampler(self, optuna: Any, trial_number: int) -> Any:
        """The sampler of trial ``trial_number``: seeded by it, so a proposal depends only on the trials before."""
        with warnings.catch_warnings():  # multivariate TPE is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Multivariate: the coordinates' best scales depend on each other (backbone vs head).
            return optuna.samplers.TPESampler(seed=self.seed + trial_number, n_startup_trials=self.n_startup_trials,
                                              multivariate=True)

    def _restored_study(self, optuna: Any) -> Any:
        """A study holding the trials run so far (none for a new agent; a loaded agent's saved ones)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize" if self.objective == "return" else "minimize",
                                    sampler=self._sampler(optuna, 0))
        scale = optuna.distributions.IntDistribution(0, NUM_SCALES - 1)
        for done in self.trials:
            study.add_trial(optuna.trial.create_trial(
                params={f"k{c}": int(k) for c, k in enumerate(done["action"])},
                distributions={f"k{c}": scale for c in range(self.num_coordinates)}, value=done["value"]))
        return study

    def _run_trial(self, action: np.ndarray, callback: StepCallback | None) -> tuple[float, int, bool]:
        """One whole episode with ``action`` at every step: (objective value, steps, callback asked to stop)."""
        self.env.reset(seed=self.seed + self.num_episodes)
        episode_return, steps, done, stopped = 0.0, 0, False, False
        info: dict[str, Any] = {}
        while not done:
            _, reward, terminated, truncated, info = self.env.step(action.copy())
            episode_return += float(reward)
            steps += 1
            self.num_timesteps += 1
            done = bool(terminated or truncated)
            self.num_episodes += int(done)
            if callback is not None:
                record = StepRecord(self.num_timesteps, self.num_episodes, float(reward), done, dict(info),
                                    episode_return=episode_return if done else None,
                                    episode_length=steps if done else None)
                stopped = stopped or callback(record) is False
        if self.objective == "return":
            return episode_return, steps, stopped
        loss = float(info.get("loss", DIVERGED_LOSS))
        return (loss if np.isfinite(loss) and not info.get("diverged") else DIVERGED_LOSS), steps, stopped

    # ------------------------------------------------------------------------------ acting
    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """The tuned constant action (a batch of them for a batch of observations)."""
        if self.action is None:
            raise RuntimeError(f"tuned_constant has no action yet: learn() was granted {self.granted_timesteps} env "
                               "steps, fewer than one whole episode; call learn(total_timesteps) with more (or load)")
        obs = np.asarray(observation)
        if obs.ndim == 2:
            return np.tile(self.action, (obs.shape[0], 1)), state
        return self.action.copy(), state

    # ----------------------------------------------------------------------- save and load
    def save(self, path: str | Path) -> Path:
        """JSON: the tuned action, the trials and the settings."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"action": None if self.action is None else self.action.tolist(), "trials": self.trials,
                  "seed": self.seed, "objective": self.objective, "num_timesteps": self.num_timesteps,
                  "num_episodes": self.num_episodes, "num_coordinates": self.num_coordinates,
                  "granted_timesteps": self.granted_timesteps, "n_startup_trials": self.n_startup_trials,
                  "episode_length": self.episode_length}
        return write_atomically(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))

    @classmethod
    def load(cls, path: str | Path, env: gym.Env) -> TunedConstantAgent:
        record = json.loads(Path(path).read_text())
        agent = cls(env, seed=record["seed"], objective=record["objective"],
                    n_startup_trials=record.get("n_startup_trials", 10), episode_length=record.get("episode_length"))
        if agent.num_coordinates != record["num_coordinates"]:
            raise ValueError(f"{path} was tuned for C = {record['num_coordinates']}, the env has "
                             f"{agent.num_coordinates}")
        agent.action = None if record["action"] is None else np.asarray(record["action"], dtype=np.int64)
        agent.trials, agent.num_timesteps = record["trials"], record["num_timesteps"]
        agent.num_episodes = record["num_episodes"]
        agent.granted_timesteps = record.get("granted_timesteps", agent.num_timesteps)
        return agent
