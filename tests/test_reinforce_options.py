"""The REINFORCE agent's switches (``agents.reinforce_objective``, optimizer, LSTM init) and presets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from agents import ReinforceLSTMAgent, ReinforceLSTMPolicy
from agents.reinforce_lstm import PRESETS
from agents.reinforce_objective import ObjectiveOptions, ReinforceObjective
from agents.training import StepRecord
from asg_benchmark.checkpoints import EpisodeLog
from tests.toy_lr_env import ToyLREnv

RETURNS = torch.tensor([[0.5, -0.1], [0.2, 0.4], [0.0, 0.3]])  # (T, K)
LOG_PROB = torch.tensor([[-1.0, -2.0], [-0.5, -1.5], [-2.5, -0.2]])


def test_all_options_off_is_eq7() -> None:
    loss = ReinforceObjective(ObjectiveOptions()).loss(RETURNS, LOG_PROB, None, unroll_length=5)
    assert torch.equal(loss, -(RETURNS * LOG_PROB).sum() / (5 * 2))


def test_baseline_subtracts_the_running_mean_of_earlier_unrolls() -> None:
    objective = ReinforceObjective(ObjectiveOptions(baseline=True, baseline_decay=0.5))
    first = objective.loss(RETURNS, LOG_PROB, None, 3)  # first unroll: its own mean
    mean = float(RETURNS.mean())
    assert torch.allclose(first, -((RETURNS - mean) * LOG_PROB).sum() / 6)
    second = objective.loss(RETURNS + 1.0, LOG_PROB, None, 3)  # now: the running mean before it
    assert torch.allclose(second, -((RETURNS + 1.0 - mean) * LOG_PROB).sum() / 6)
    assert objective.baseline_value == pytest.approx(0.5 * mean + 0.5 * (mean + 1.0))


def test_per_step_baseline_keeps_one_running_mean_per_episode_position() -> None:
    objective = ReinforceObjective(ObjectiveOptions(baseline=True, baseline_per_step=True, baseline_decay=0.5))
    positions = torch.tensor([[0, 3], [1, 4], [2, 5]])  # slot 1 is three steps further into its episode
    first = objective.loss(RETURNS, LOG_PROB, None, 3, positions=positions)
    assert torch.equal(first, torch.zeros(()))  # each position's first baseline is its own return
    later = RETURNS + torch.tensor([[1.0], [0.0], [0.0]])  # a better return at positions 0 and 3 only
    second = objective.loss(later, LOG_PROB, None, 3, positions=positions)
    assert torch.allclose(second, -(LOG_PROB[0].sum()) / 6)  # only those steps have an advantage (+1)
    assert objective.step_baselines[0] == pytest.approx(0.5 * 0.5 + 0.5 * 1.5)
    assert objective.step_baselines[4] == pytest.approx(0.4)
    restored = ReinforceObjective(objective.options)
    restored.load_state_dict(objective.state_dict())
    assert restored.step_baselines == objective.step_baselines
    with pytest.raises(ValueError, match="position"):
        objective.loss(RETURNS, LOG_PROB, None, 3)
    with pytest.raises(ValueError, match="needs baseline=True"):
        ObjectiveOptions(baseline_per_step=True)


def test_agent_gives_each_update_the_positions_of_its_steps_in_their_episodes(tmp_path) -> None:
    """Whole-episode unrolls at γ = 1 (returns to the episode's end), the per-step baseline's setting."""
    agent = ReinforceLSTMAgent(ToyLREnv(episode_length=4), seed=0, unroll_length=3, gamma=1.0, baseline=True,
                               baseline_per_step=True)
    seen = []
    original = agent.objective.advantages

    def spy(returns, positions, *args):
        seen.append(positions.T.tolist())  # positions (T, K) → per slot
        return original(returns, positions, *args)

    agent.objective.advantages = spy  # type: ignore[method-assign]
    agent.learn(8)
    assert seen == [[[0, 1, 2]], [[3]], [[0, 1, 2]], [[3]]]  # U = 3, cut at each episode's end
    assert len(agent.objective.step_baselines) == 4
    loaded = ReinforceLSTMAgent.load(agent.save(tmp_path / "agent.pt"), env=ToyLREnv(episode_length=4))
    assert loaded.objective.step_baselines == agent.objective.step_baselines


def test_normalized_advantages_and_entropy_bonus() -> None:
    objective = ReinforceObjective(ObjectiveOptions(normalize_advantages=True, entropy_coef=0.1))
    coordinate_entropy = torch.full((3, 2, 4), 0.5)  # (T, K, C): the joint entropy is 4 · 0.5 = 2
    advantages = (RETURNS - RETURNS.mean()) / (RETURNS.std() + 1e-8)
    expected = -(advantages * LOG_PROB).sum() / 6 - 0.1 * 2.0
    assert torch.allclose(objective.loss(RETURNS, LOG_PROB, coordinate_entropy, 3), expected)
    with pytest.raises(ValueError, match="entropy_coef"):
        ObjectiveOptions(entropy_coef=-1.0)


def test_entropy_floor_penalises_only_a_policy_sharper_than_the_floor() -> None:
    objective = ReinforceObjective(ObjectiveOptions(entropy_floor=1.0, entropy_floor_coef=2.0))
    eq7 = -(RETURNS * LOG_PROB).sum() / 6
    above = torch.full((3, 2, 4), 1.2)
    assert torch.equal(objective.loss(RETURNS, LOG_PROB, above, 3), eq7)  # free above the floor
    below = torch.full((3, 2, 4), 0.25, requires_grad=True)
    loss = objective.loss(RETURNS, LOG_PROB, below, 3)
    assert torch.allclose(loss, eq7 + 2.0 * 4 * 0.75)  # ρ · C · (floor − mean entropy)
    loss.backward()
    assert below.grad is not None and bool((below.grad < 0).all())  # the gradient raises the entropy
    with pytest.raises(ValueError, match="entropy_floor"):
        ObjectiveOptions(entropy_floor=0.0)


def test_annealed_entropy_floor_falls_linearly_to_zero() -> None:
    options = ObjectiveOptions(entropy_floor=1.0, entropy_floor_decay_steps=100)
    assert [options.floor_at(t) for t in (0, 25, 100, 400)] == [1.0, 0.75, 0.0, 0.0]
    objective = ReinforceObjective(options)
    eq7 = -(RETURNS * LOG_PROB).sum() / 6
    below = torch.full((3, 2, 4), 0.25)
    assert torch.allclose(objective.loss(RETURNS, LOG_PROB, below, 3, timestep=50), eq7 + 4 * (0.5 - 0.25))
    assert torch.equal(objective.loss(RETURNS, LOG_PROB, below, 3, timestep=100), eq7)  # annealed away
    assert ObjectiveOptions(entropy_floor=1.0).floor_at(10**6) == 1.0  # without decay: fixed
    for bad in ({"entropy_floor_decay_steps": 100}, {"entropy_floor": 1.0, "entropy_floor_decay_steps": 0}):
        with pytest.raises(ValueError, match="entropy_floor_decay_steps"):
            ObjectiveOptions(**bad)


def test_agent_anneals_its_floor_by_env_steps_trained_and_keeps_it_in_its_checkpoint(tmp_path) -> None:
    agent = ReinforceLSTMAgent(ToyLREnv(noise=0.0), seed=0, entropy_floor=1.0, entropy_floor_decay_steps=40)
    floors: list[float] = []

    def record_floor(record: StepRecord) -> None:
        if record.update is not None:
            floors.append(record.update["losses/entropy_floor"])

    agent.learn(60, callback=record_floor)
    assert floors[0] > floors[-1] == 0.0 and all(a >= b for a, b in itertools.pairwise(floors))
    loaded = ReinforceLSTMAgent.load(agent.save(tmp_path / "agent.pt"), env=ToyLREnv(noise=0.0))
    assert loaded.objective.options == agent.objective.options
    assert loaded.objective.options.floor_at(loaded.num_timesteps) == 0.0  # resumes past the annealing


def test_reference_lstm_init_is_orthogonal_with_zero_biases() -> None:
    policy = ReinforceLSTMPolicy(3, generator=torch.Generator().manual_seed(0), lstm_init="reference")
    for cell in policy.encoders:
        assert torch.count_nonzero(cell.bias_ih) == 0 and torch.count_nonzero(cell.bias_hh) == 0
        recurrent = cell.weight_hh  # (4h, h): orthonormal columns
        torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(recurrent.shape[1]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="lstm_init"):
        ReinforceLSTMPolicy(3, lstm_init="xavier")


def test_initial_logit_slope_starts_the_policy_at_a_prior_towards_small_scales(tmp_path) -> None:
    uniform = ReinforceLSTMPolicy(3, generator=torch.Generator().manual_seed(0))
    for head in uniform.heads:  # β = 0 is the earlier init: zero biases, +0 (bit for bit)
        assert torch.equal(head.bias, torch.zeros(11)) and not torch.signbit(head.bias).any()
    env = ToyLREnv(noise=0.0)
    agent = ReinforceLSTMAgent(env, seed=0, **PRESETS["stabilized"], initial_logit_slope=0.5)
    obs, _ = env.reset(seed=99)
    with torch.no_grad():
        logits, _ = agent.policy(torch.as_tensor(obs)[None, None], agent.policy.initial_state(1))
    prior = torch.softmax(-0.5 * torch.arange(11.0), dim=0)
    torch.testing.assert_close(torch.softmax(logits[0, 0], dim=-1), prior.expand(3, 11),
                               atol=0.02, rtol=0)
    drawn = np.stack([agent.predict(obs)[0] for _ in range(300)])  # sampled as deployed: mostly small scales
    assert drawn.mean() < 2.5  # the prior's mean index is 1.5, the uniform one's 5
    agent.learn(10)
    loaded = ReinforceLSTMAgent.load(agent.save(tmp_path / "agent.pt"), env=ToyLREnv())
    assert loaded.config["initial_logit_slope"] == 0.5 and loaded.config == agent.config
    with pytest.raises(ValueError, match="initial_logit_slope"):
        ReinforceLSTMAgent(env, initial_logit_slope=float("nan"))


def _entropy(agent: ReinforceLSTMAgent, env: ToyLREnv) -> float:
    obs, _ = env.reset(seed=99)
    with torch.no_grad():
        logits, _ = agent.policy(torch.as_tensor(obs)[None, None], agent.policy.initial_state(1))
    return float(agent.policy.entropy(logits).mean())


def test_entropy_bonus_keeps_the_policy_more_random() -> None:
    entropies = []
    for coef in (0.0, 0.5):
        env = ToyLREnv(noise=0.0)
        agent = ReinforceLSTMAgent(env, seed=0, entropy_coef=coef, learning_rate=0.5)
        agent.learn(200)
        entropies.append(_entropy(agent, env))
    assert entropies[1] > entropies[0] + 0.1


def test_entropy_floor_holds_the_policy_where_the_fixed_bonus_lets_it_collapse() -> None:
    late_entropy = {}  # mean per-coordinate entropy of the sampling distributions over the last 20 episodes
    for name, options in {"fixed": {}, "floor": {"entropy_floor": 1.0}}.items():
        log = EpisodeLog()
        agent = ReinforceLSTMAgent(ToyLREnv(noise=0.0), seed=0, **{**PRESETS["stabilized"], "learning_rate": 1e-2,
                                                                  **options})
        agent.learn(1200, callback=log)
        late_entropy[name] = float(np.mean([row["entropy"] for row in log.rows[-20:]]))
    assert late_entropy["fixed"] < 0.1 and 0.8 < late_entropy["floor"] < 1.3, late_entropy


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_learns_saves_and_resumes(preset: str, tmp_path) -> None:
    env = ToyLREnv()
    env.total_steps = env.episode_length  # `recommended` unrolls over the episode: say how long it is
    agent = ReinforceLSTMAgent(env, seed=3, **PRESETS[preset])
    agent.learn(12)
    path = agent.save(tmp_path / "agent.pt")
    loaded = ReinforceLSTMAgent.load(path, env=ToyLREnv())
    assert loaded.config == agent.config and loaded.objective.baseline_value == agent.objective.baseline_value
    assert isinstance(loaded.optimizer, type(agent.optimizer))
    for a, b in zip(agent.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    obs = np.asarray(env.reset(seed=5)[0])
    assert np.array_equal(agent.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    with pytest.raises(ValueError, match="optimizer"):
        ReinforceLSTMAgent(env, optimizer="rmsprop")


def test_unroll_length_episode_is_the_envs_decisions_per_episode() -> None:
    env = ToyLREnv(episode_length=7)
    env.total_steps = 7  # the ASG env's name for its decisions per episode
    agent = ReinforceLSTMAgent(env, seed=0, unroll_length="episode")
    assert agent.unroll_length == agent.config["unroll_length"] == 7  # recorded as the number
    assert ReinforceLSTMAgent(env, seed=0, **PRESETS["recommended"]).unroll_length == 7
    with pytest.raises(ValueError, match="episode length is known"):
        ReinforceLSTMAgent(num_coordinates=3, unroll_length="episode")
    with pytest.raises(ValueError, match="'episode'"):
        ReinforceLSTMAgent(ToyLREnv(), unroll_length="window")


def test_make_agent_takes_a_preset_under_explicit_keywords() -> None:
    from agents import make_agent

    agent = make_agent("reinforce_lstm", ToyLREnv(), seed=0, preset="stabilized", entropy_coef=0.05)
    assert agent.config["optimizer"] == "adam" and agent.config["entropy_coef"] == 0.05
    assert make_agent("reinforce_lstm", ToyLREnv(), seed=0).config == ReinforceLSTMAgent(ToyLREnv(), seed=0).config
    with pytest.raises(ValueError, match="preset"):
        make_agent("reinforce_lstm", ToyLREnv(), preset="fast")


def test_paired_advantage_is_the_difference_to_the_partner_at_each_counted_step() -> None:
    returns = torch.tensor([[3.0, 1.0], [2.0, 1.5], [1.0, 0.0]])  # (T, 2): the pair side by side
    mask = torch.tensor([[True, True], [True, True], [False, False]])  # the partner's episode ended after 2 steps
    log_prob = torch.zeros(3, 2, requires_grad=True)
    entropy = torch.tensor([[[2.0]] * 2, [[2.0]] * 2, [[0.0]] * 2], requires_grad=True)  # (T, 2, C = 1)
    objective = ReinforceObjective(ObjectiveOptions(entropy_coef=0.1))
    loss = objective.loss(returns, log_prob, entropy, 3, partner_returns=returns.flip(1), mask=mask)
    loss.backward()
    assert log_prob.grad is not None and entropy.grad is not None
    expected = -torch.tensor([[2.0, -2.0], [0.5, -0.5], [0.0, 0.0]]) / 6  # -(G - G_partner) / (U·K)
    assert torch.allclose(log_prob.grad, expected)
    assert float(loss.detach()) == pytest.approx(-0.1 * 2.0)  # the bonus averages the 4 counted steps' entropy
    assert torch.allclose(entropy.grad[:2], torch.full((2, 2, 1), -0.1 / 4)) and torch.all(entropy.grad[2] == 0)
    normalized = ReinforceObjective(ObjectiveOptions(normalize_advantages=True))
    log_prob.grad = None
    normalized.loss(returns, log_prob, None, 3, partner_returns=returns.flip(1), mask=mask).backward()
    assert log_prob.grad is not None and torch.all(log_prob.grad[2] == 0)  # normalised among counted steps only
    assert float(log_prob.grad[:2].sum()) == pytest.approx(0.0, abs=1e-6)


def _toy(noise: float = 0.5) -> ToyLREnv:
    env = ToyLREnv(noise=noise)
    env.total_steps = env.episode_length  # the ASG env's decisions per episode
    return env


def test_paired_episodes_share_their_seed_and_update_once_per_pair() -> None:
    env = _toy()
    agent = ReinforceLSTMAgent(env, seed=7, **PRESETS["paired"])
    agent.learn(env.episode_length)  # the pair's first episode is kept for its partner
    assert agent.num_updates == 0 and agent.num_episodes == 1
    agent.learn(3 * env.episode_length)
    assert env.reset_seeds == [7, 7, 8, 8] and agent.num_updates == 2
    assert agent.episode_seed(5) == 9 and ReinforceLSTMAgent(_toy(), seed=7).episode_seed(5) == 12
    with pytest.raises(ValueError, match="unroll_length='episode'"):
        ReinforceLSTMAgent(_toy(), paired_episodes=True, unroll_length=5)


@pytest.mark.parametrize("cut", [10, 15])  # between the pair's episodes; in its second episode
def test_paired_training_resumes_exactly(cut: int, tmp_path) -> None:
    whole = ReinforceLSTMAgent(_toy(), seed=7, **PRESETS["paired"]).learn(40)
    first = ReinforceLSTMAgent(_toy(), seed=7, **PRESETS["paired"]).learn(cut)
    resumed = ReinforceLSTMAgent.load(first.save(tmp_path / "agent.pt"), env=_toy()).learn(40 - cut)
    assert resumed.num_updates == whole.num_updates == 2
    for a, b in zip(whole.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(a, b)


def test_paired_episodes_learn_where_the_data_order_drowns_the_reward() -> None:
    """The toy's noise (std 1 per step, against a reward signal of ~0.3) is drawn from the reset seed, as an ASG
    episode's minibatches are: paired episodes cancel it and find the best scales within 100 episodes, where the
    running per-position baseline of `recommended` does not (greedy actions' mean distance to the targets)."""

    def distance(preset: str, seed: int) -> float:
        agent = ReinforceLSTMAgent(_toy(noise=1.0), seed=seed, **PRESETS[preset]).learn(1000)
        env = _toy()
        action, _ = agent.predict(env.reset(seed=999)[0], deterministic=True)
        return float(np.abs(action - env.targets).mean())

    paired, recommended = ([distance(preset, seed) for seed in range(3)] for preset in ("paired", "recommended"))
    assert np.mean(paired) <= 0.5 < np.mean(recommended), (paired, recommended)


def test_the_clipped_surrogate_is_eq7_at_the_sampling_policy_and_stops_beyond_the_clip() -> None:
    advantages = torch.tensor([[1.0, -1.0], [2.0, 0.5]])  # (T, K)
    objective = ReinforceObjective(ObjectiveOptions())
    sampled = torch.log(torch.tensor([[0.2, 0.3], [0.1, 0.4]]))
    log_prob = sampled.clone().requires_grad_(True)
    objective.policy_loss(advantages, log_prob, None, 2, old_log_prob=sampled).backward()
    assert log_prob.grad is not None and torch.allclose(log_prob.grad, -advantages / 4)  # Eq. 7's gradient
    moved = (sampled + torch.log(torch.tensor([[1.5, 0.5], [0.5, 1.1]]))).requires_grad_(True)  # ratios π/π_old
    objective.policy_loss(advantages, moved, None, 2, old_log_prob=sampled, clip_range=0.2).backward()
    assert moved.grad is not None
    # No gradient where the ratio left 1 ± 0.2 the way its advantage pushes (up for A > 0, down for A < 0) ...
    assert moved.grad[0, 0] == 0 and moved.grad[0, 1] == 0
    # ... the surrogate's where the step would undo the move (A > 0 at a lowered ratio) or inside the range.
    assert moved.grad[1, 0] == pytest.approx(-2.0 * 0.5 / 4) and moved.grad[1, 1] == pytest.approx(-0.5 * 1.1 / 4)


def test_update_epochs_take_that_many_steps_per_update_and_resume_exactly(tmp_path) -> None:
    once = ReinforceLSTMAgent(_toy(), seed=7, **PRESETS["recommended"]).learn(20)
    thrice = ReinforceLSTMAgent(_toy(), seed=7, update_epochs=3, **PRESETS["recommended"]).learn(20)
    assert once.num_updates == 2 and thrice.num_updates == 6  # two episodes of 10 decisions
    first = ReinforceLSTMAgent(_toy(), seed=7, update_epochs=3, **PRESETS["recommended"]).learn(15)
    resumed = ReinforceLSTMAgent.load(first.save(tmp_path / "agent.pt"), env=_toy()).learn(5)
    assert resumed.config["update_epochs"] == 3 and resumed.num_updates == 6
    for a, b in zip(thrice.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="update_epochs"):
        ReinforceLSTMAgent(_toy(), update_epochs=0)
    with pytest.raises(ValueError, match="clip_range"):
        ReinforceLSTMAgent(_toy(), update_epochs=2, clip_range=1.5)
