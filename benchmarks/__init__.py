"""Rapport's reproducible performance suite: ``python benchmarks/run.py`` (see README.md)."""
