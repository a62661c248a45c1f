"""Benchmarks of codex_sync against a fast stand-in app-server (see README.md)."""
