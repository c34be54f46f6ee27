"""The paper's controller: REINFORCE with per-feature LSTMs (``agents.ReinforceLSTMAgent``), on the toy LR env."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from agents import ReinforceLSTMAgent, ReinforceLSTMPolicy
from agents.reinforce_lstm import discounted_returns
from tests.toy_lr_env import Recorder, ToyLREnv


def target_probabilities(agent: ReinforceLSTMAgent, env: ToyLREnv) -> np.ndarray:
    """π(target_c) per coordinate at the first state of an episode."""
    obs, _ = env.reset(seed=12345)
    with torch.no_grad():
        logits, _ = agent.policy(torch.as_tensor(obs)[None, None], agent.policy.initial_state(1))
    probs = torch.softmax(logits[0, 0], dim=-1).numpy()
    return probs[np.arange(len(env.targets)), env.targets]


# ----------------------------------------------------------------------------- the policy
def test_architecture_parameter_counts_follow_the_paper() -> None:
    c, hidden, features, scales = 7, 20, 5, 11
    agent = ReinforceLSTMAgent(num_coordinates=c, seed=0)
    policy = agent.policy
    assert len(policy.encoders) == features and len(policy.heads) == c
    for lstm in policy.encoders:  # single-layer LSTMs, stepped one time step at a time
        assert isinstance(lstm, torch.nn.LSTMCell) and (lstm.input_size, lstm.hidden_size) == (1, hidden)
    # One LSTM: 4 gates x (input weights + recurrent weights + two biases).
    per_lstm = 4 * hidden * 1 + 4 * hidden * hidden + 2 * 4 * hidden
    per_head = (features * hidden + 1) * scales + scales  # 101 → 11
    assert per_lstm == 1840 and per_head == 1122
    assert sum(p.numel() for p in policy.encoders.parameters()) == features * per_lstm
    assert all(sum(p.numel() for p in head.parameters()) == per_head for head in policy.heads)
    assert sum(p.numel() for p in policy.parameters()) == features * per_lstm + c * per_head
    # Small-gain heads: the untrained policy is nearly uniform over the 11 scales.
    probs = torch.softmax(policy(torch.rand(1, 1, features + c), policy.initial_state(1))[0], dim=-1)
    assert torch.allclose(probs, torch.full_like(probs, 1 / scales), atol=0.01)


def test_joint_log_prob_is_the_sum_over_coordinates() -> None:
    policy = ReinforceLSTMPolicy(num_coordinates=2, generator=torch.Generator().manual_seed(1), head_gain=1.0)
    logits, _ = policy(torch.randn(3, 1, 7, generator=torch.Generator().manual_seed(2)), policy.initial_state(1))
    every_action = torch.cartesian_prod(torch.arange(11), torch.arange(11))  # all 121 joint actions
    for t in range(3):
        joint = policy.log_prob(logits[t, 0].expand(121, 2, 11), every_action)
        marginals = [torch.distributions.Categorical(logits=logits[t, 0, c]).log_prob(every_action[:, c])
                     for c in range(2)]
        torch.testing.assert_close(joint, marginals[0] + marginals[1])
        torch.testing.assert_close(joint.exp().sum(), torch.tensor(1.0))  # a proper joint distribution
    entropy = policy.entropy(logits[0, 0])
    expected = sum(torch.distributions.Categorical(logits=logits[0, 0, c]).entropy() for c in range(2))
    torch.testing.assert_close(entropy, expected)


# ----------------------------------------------------------------------------- learning
def test_discounted_returns_stay_within_the_unroll() -> None:
    torch.testing.assert_close(discounted_returns([1.0, 1.0, 1.0], 0.5), torch.tensor([1.75, 1.5, 1.0]))
    torch.testing.assert_close(discounted_returns([0.3, -0.2], 0.0), torch.tensor([0.3, -0.2]))


def test_update_is_eq7_sgd_step() -> None:
    """One unroll of U = 5 steps moves θ by -lr ∇(-(1/U) Σ r_t log π(a_t|s_t)), from h_0 = 0."""
    env = Recorder(ToyLREnv(episode_length=50))
    agent = ReinforceLSTMAgent(env, learning_rate=0.1, momentum=0.0, seed=4)
    before = copy.deepcopy(agent.policy)
    agent.learn(5)
    assert agent.num_updates == 1
    obs, _ = env.unwrapped.reset(seed=4)  # the observations the agent saw: replay the recorded actions
    observations = [obs]
    for action in env.actions[:-1]:
        observations.append(env.unwrapped.step(action)[0])
    logits, _ = before(torch.as_tensor(np.stack(observations))[:, None], before.initial_state(1))
    log_softmax = torch.log_softmax(logits[:, 0], dim=-1)
    actions = torch.as_tensor(np.stack(env.actions))
    log_prob = sum(log_softmax[:, c].gather(1, actions[:, c:c + 1])[:, 0] for c in range(3))
    loss = -(torch.tensor(env.rewards, dtype=torch.float32) * log_prob).sum() / 5
    loss.backward()
    for p_before, p_after in zip(before.parameters(), agent.policy.parameters(), strict=True):
        torch.testing.assert_close(p_after, (p_before - 0.1 * p_before.grad).detach())


def test_reinforce_learns_the_best_scale_per_coordinate() -> None:
    """A context-free task where target_c is best: π(target_c) must rise far above chance (1/11)."""
    env = ToyLREnv(targets=(2, 8, 5), reward_scale=0.1, noise=0.01)
    agent = ReinforceLSTMAgent(env, seed=1)  # the paper's settings: lr 0.5, momentum 0.9, U = 5
    assert np.allclose(target_probabilities(agent, env), 1 / 11, atol=0.01)
    agent.learn(800)
    probs = target_probabilities(agent, env)
    assert probs.mean() > 0.3, probs  # > 3x chance
    assert (agent.predict(env.reset(seed=7)[0], deterministic=True)[0] == env.targets).sum() >= 2


def test_episodes_use_derived_seeds_and_divergence_ends_them() -> None:
    env = ToyLREnv(episode_length=10, diverge_at=4)
    agent = ReinforceLSTMAgent(env, seed=100)
    records = []
    agent.learn(10, callback=records.append)
    assert env.reset_seeds == [100, 101, 102]  # episode k is reset with seed + k
    assert [r.done for r in records].count(True) == agent.num_episodes == 2
    # A diverged episode still updates π on its (shorter) last unroll, with the crash penalty.
    assert agent.num_updates == 2 and records[3].update is not None and records[3].reward == -10.0
    assert agent.episode_timesteps == 2
    stopped = ReinforceLSTMAgent(env, seed=100).learn(10, callback=lambda r: not r.done)
    assert stopped.num_timesteps == 4


# --------------------------------------------------------------------------------- errors
def test_wrong_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="num_coordinates"):
        ReinforceLSTMAgent(ToyLREnv(), num_coordinates=7)
    with pytest.raises(ValueError, match="unroll_length"):
        ReinforceLSTMAgent(ToyLREnv(), unroll_length=0)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        ReinforceLSTMAgent(ToyLREnv()).predict(np.zeros(7))
    with pytest.raises(ValueError, match="no env"):
        ReinforceLSTMAgent(num_coordinates=3).learn(1)
