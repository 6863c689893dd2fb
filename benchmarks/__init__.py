"""Benchmarks of Newsdesk (run as ``python -m benchmarks.NAME``); see benchmarks/README.md."""
