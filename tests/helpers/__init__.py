"""Shared builders for the tests (tiny models, configs, run directories, CLI calls)."""
