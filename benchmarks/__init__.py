"""Benchmarks: run each with ``python -m benchmarks.<name>``; see ``docs/benchmarks.md``."""
