"""Offline emoji hypernymy task."""
