"""Leaderboard: published results and submissions."""
