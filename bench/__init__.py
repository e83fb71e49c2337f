"""Benchmarks.  Each module runs as `python -m bench.<name>` and prints a table; results and
the exact commands are recorded in docs/BENCHMARKS.md."""
