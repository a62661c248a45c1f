"""Seed conformance: how far the async seed SDK's examples, docs and tests port to codex_sync.

``python -m tests.conformance`` runs everything and prints ``seed conformance: P/T``
with one row per example, snippet and scenario (see ``runner.py``).
"""
