"""Benchmarks, run by hand from the repository root: ``python -m bench.sync``,
``python -m bench.push`` (see bench/README.md). Not part of the installed package."""
