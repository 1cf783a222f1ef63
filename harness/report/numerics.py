"""On which numerics path the runs of a leaderboard trained, and whether two boards share one.

A chaotic training reproduces bit for bit only where floats round the same way: the same machine type
and CPU kernels, on some machines the same thread count (a run's ``manifest.json`` records them as
``compute``, with :func:`harness.runs.manifest.numerics_fingerprint`). The report sums them up per board
(``provenance.runs_compute``) and ``taxobench compare`` says whether two boards' runs share a path, so a
reader can tell a machine's rounding from a change in the code.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.runs import store

FIELDS = ("numerics_fingerprint", "cpu_model", "cpu_capability", "threads", "cuda_device")


def runs_compute(run_dirs: Iterable[Path]) -> list[dict[str, Any]]:
    """The distinct ``compute`` records (:data:`FIELDS`) of the runs' manifests, each with its number of
    runs, most runs first; a run without a manifest or a fingerprint counts under ``None`` values."""
    counts: Counter[tuple[Any, ...]] = Counter()
    for d in run_dirs:
        try:
            compute = json.loads((Path(d) / store.MANIFEST).read_text()).get("compute") or {}
        except (OSError, ValueError, AttributeError):
            compute = {}
        counts[tuple(compute.get(f) if isinstance(compute, dict) else None for f in FIELDS)] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], json.dumps(kv[0], default=str)))
    return [{**dict(zip(FIELDS, key, strict=True)), "runs": n} for key, n in ordered]


def fingerprints(board: dict[str, Any]) -> set[str] | None:
    """The numerics fingerprints of a leaderboard's runs; None when the board does not record them all
    (made before boards carried them, or some run's manifest has none)."""
    records = (board.get("provenance") or {}).get("runs_compute")
    if not records:
        return None
    found = {r.get("numerics_fingerprint") for r in records}
    return None if None in found else {str(f) for f in found}


def numerics_verdict(new: dict[str, Any], reference: dict[str, Any]) -> tuple[bool | None, str]:
    """(same path?, a sentence): True when both boards' runs share one set of fingerprints, False when
    they differ, None when either board does not record them."""
    a, b = fingerprints(new), fingerprints(reference)
    if a is None or b is None:
        which = "the new board" if b is not None else "the reference" if a is not None else "either board"
        return None, (
            f"numerics path: unknown ({which} records no fingerprint for every run), so a difference "
            "beyond the tolerance may be the machine's rounding or a change"
        )
    shown = ", ".join(sorted(a))
    if a == b:
        return True, (
            f"numerics path: the same ({shown}): a difference beyond the tolerance most likely comes from "
            "code, data or configuration, not rounding"
        )
    return False, (
        f"numerics path: different ({shown} vs {', '.join(sorted(b))}): the fingerprinted computations round "
        "differently there, so the runs need not reproduce bit for bit, and a chaotic training's rows can "
        "move by their seed spread (docs/reliability.md)"
    )
