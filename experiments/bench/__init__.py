"""Performance benchmarks: env overhead, data pipelines, vector envs, rollouts, GPU checks.

Run as ``python -m experiments.bench.<script>``.
"""
