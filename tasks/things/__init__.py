"""THINGS hypernymy task."""
