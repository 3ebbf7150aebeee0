"""Benchmarks: scripts that print figures, outside the test suite (see bench/README.md)."""
