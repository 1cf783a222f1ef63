"""Deterministic random streams derived from one seed and a purpose (stable across processes)."""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *purpose: object) -> int:
    """A 64-bit seed from the run seed and a purpose tuple, e.g. ``derive_seed(42, "split", leaf)``."""
    blob = "\x1f".join([str(seed), *map(str, purpose)]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def derive_rng(seed: int, *purpose: object) -> random.Random:
    """A ``random.Random`` for one purpose; equal arguments give equal streams in any process."""
    return random.Random(derive_seed(seed, *purpose))
