"""The benchmark's errors: each says what was wrong and what to do instead."""

from __future__ import annotations


class BenchmarkError(ValueError):
    """A benchmark that cannot run as asked (the CLI prints the message and exits)."""


class AgentError(BenchmarkError):
    """An agent that cannot be resolved or built: unknown name, bad import path, no ``predict``."""


class SeedError(BenchmarkError):
    """Seeds that break the protocol: a bad range, overlap of training and evaluation, too few."""


class ProtocolError(BenchmarkError):
    """A spec that breaks the protocol, or a folder that holds results of another protocol."""
