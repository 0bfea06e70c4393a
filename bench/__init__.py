"""Benchmarks of orderflow against the consumers a user could write instead: ``python bench/run.py``."""
