"""A trained agent's folder is whole or old: a save killed between its two moves leaves the previous version."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from asg_benchmark.checkpoints import TrainedAgent


class Counter:
    """The smallest savable agent: one number."""

    def __init__(self, value: int) -> None:
        self.value = value

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.value))

    @classmethod
    def load(cls, path: Path, env: Any = None) -> Counter:
        return cls(json.loads(Path(path).read_text()))


def test_a_killed_save_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = TrainedAgent.of(tmp_path, "mypkg.agents:make", 0)
    assert saved.folder.name == "mypkg.agents_make-seed0"
    settings = {"budget": 10, "agent_kwargs": {"width": (1, 2)}}
    saved.save(Counter(1), settings, {"train_env_steps": 3}, [{"episode": 0, "return": 0.5}])
    assert saved.load(Counter(0), None, settings)[0].value == 1  # tuples compare as their JSON lists

    moves = []

    def killed_at_the_second_move(source: Any, target: Any) -> None:
        moves.append(target)
        if len(moves) == 2:
            raise KeyboardInterrupt
        os.rename(source, target)

    monkeypatch.setattr(os, "replace", killed_at_the_second_move)
    with pytest.raises(KeyboardInterrupt):
        saved.save(Counter(2), settings, {"train_env_steps": 6})
    monkeypatch.undo()
    assert not saved.folder.exists()
    agent, training = saved.load(Counter(0), None, settings)  # the previous version, still readable
    assert agent.value == 1 and training == {"train_env_steps": 3} and saved.episodes()[0]["return"] == "0.5"

    saved.save(Counter(3), settings, {"train_env_steps": 9})
    assert saved.load(Counter(0), None, settings)[0].value == 3 and not saved.episodes()
    assert sorted(p.name for p in saved.folder.parent.iterdir()) == [saved.folder.name]  # nothing left behind
    with pytest.raises(Exception, match="other settings"):
        saved.load(Counter(0), None, {**settings, "budget": 20})


class Configured(Counter):
    """An agent that states its resolved settings (``config``), as the built-in REINFORCE agent does."""

    def __init__(self, value: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(value)
        self.config = config or {"learning_rate": 0.01}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps([self.value, self.config]))

    @classmethod
    def load(cls, path: Path, env: Any = None) -> Configured:
        value, config = json.loads(Path(path).read_text())
        return cls(value, config)


def test_a_checkpoint_with_the_same_keywords_but_other_settings_is_refused(tmp_path: Path) -> None:
    saved, settings = TrainedAgent.of(tmp_path, "recommended=reinforce_lstm", 0), {"agent_kwargs": {"preset": "p"}}
    saved.save(Configured(1, {"learning_rate": 0.01}), settings, {})
    assert saved.load(Configured(0, {"learning_rate": 0.01}), None, settings)[0].value == 1
    with pytest.raises(Exception, match=r"other settings.*learning_rate.*\(0\.01, 0\.1\).*preset may have changed"):
        saved.load(Configured(0, {"learning_rate": 0.1}), None, settings)  # preset "p" redefined meanwhile


def test_training_summaries_of_finished_and_unfinished_runs(tmp_path: Path) -> None:
    from asg_benchmark.checkpoints import training_summaries

    rows = [{"episode": k, "return": float(k), "entropy": 2.0 - 0.1 * k} for k in range(10)]
    TrainedAgent.of(tmp_path, "ppo", 0).save(Counter(1), {}, {}, rows)
    TrainedAgent.of(tmp_path, "reinforce_lstm", 0).partial().save(Counter(1), {}, {}, rows[:5])
    summaries = training_summaries(tmp_path)
    assert set(summaries) == {"ppo", "reinforce_lstm (still training)"}
    ppo = summaries["ppo"]
    assert (ppo.runs, ppo.episodes, ppo.return_early, ppo.return_late) == (1, 10, 0.5, 8.5)
    assert ppo.entropy_late == pytest.approx(1.15) and summaries["reinforce_lstm (still training)"].episodes == 5
