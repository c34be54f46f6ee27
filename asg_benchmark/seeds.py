"""Seeds of the protocol: parsing ranges, the train/evaluation split, and reseeding before each run.

Training seeds seed the agents (and, through them, their training episodes); evaluation seeds are
the ``reset(seed=…)`` of the frozen evaluation episodes. The two sets must be disjoint, and the
training episodes themselves run in a namespace no evaluation seed can reach
(:data:`TRAIN_EPISODE_OFFSET`, see :mod:`asg_benchmark.training_env`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from asg_benchmark.errors import SeedError

MIN_EVAL_SEEDS = 10
TRAIN_EPISODE_OFFSET = 1 << 32
"""Training episodes are reset with ``seed + TRAIN_EPISODE_OFFSET``; evaluation seeds stay below it."""


def parse_seeds(tokens: Iterable[str | int]) -> list[int]:
    """``["0", "1", "100-109", "5,6"]`` → ``[0, 1, 100, …, 109, 5, 6]``; ranges are inclusive."""
    seeds: list[int] = []
    for token in tokens:
        for part in str(token).replace(",", " ").split():
            low, dash, high = part.partition("-")
            try:
                first, last = (int(low), int(high)) if dash else (int(part), int(part))
            except ValueError:
                raise SeedError(f"a seed is an integer or a range like 100-109, got {part!r}") from None
            if first > last:
                raise SeedError(f"empty seed range {part!r}: write low-high with low <= high")
            seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        raise SeedError(f"seeds given twice: {repeated}")
    return seeds


def check_seeds(train_seeds: Sequence[int], eval_seeds: Sequence[int], *, allow_few: bool = False) -> None:
    """Refuse what breaks the protocol: overlap, fewer than 10 evaluation seeds (unless ``allow_few``)."""
    if not train_seeds or not eval_seeds:
        raise SeedError("give at least one training seed and one evaluation seed")
    bad = [s for s in [*train_seeds, *eval_seeds] if not 0 <= s < TRAIN_EPISODE_OFFSET]
    if bad:
        raise SeedError(f"seeds must be in [0, 2**32), got {bad}")
    overlap = sorted(set(train_seeds) & set(eval_seeds))
    if overlap:
        raise SeedError(f"evaluation seeds must not be training seeds; both: {overlap}")
    if len(eval_seeds) < MIN_EVAL_SEEDS and not allow_few:
        raise SeedError(f"the protocol evaluates on at least {MIN_EVAL_SEEDS} evaluation seeds, got "
                        f"{len(eval_seeds)}; pass --allow-few-seeds (allow_few_seeds=True) for a smoke test, "
                        "whose results are not the protocol's")


def run_seed(*parts: int) -> int:
    """A 32-bit seed from a tuple of integers (e.g. training seed, evaluation seed, draw)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and torch's global generators: agents that sample from them repeat."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def reseed_agent(agent: Any, seed: int) -> None:
    """Seed ``agent``'s sampling for one evaluation episode, so an episode does not depend on the ones before.

    An agent's own ``set_sampling_seed(seed)`` wins; else the global generators are seeded and the
    generators the built-in agents keep (``generator``: torch, ``rng``: NumPy) are reseeded.
    """
    seed_everything(seed)
    hook = getattr(agent, "set_sampling_seed", None)
    if callable(hook):
        hook(seed)
        return
    import torch

    generator = getattr(agent, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(seed)
    if isinstance(getattr(agent, "rng", None), np.random.Generator):
        agent.rng = np.random.default_rng(seed)
