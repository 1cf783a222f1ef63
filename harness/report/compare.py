"""Does a rerun reproduce a leaderboard?  ``taxobench compare NEW.json REFERENCE.json [MORE.json ...]``.

Rows are matched on (model, condition, subset); every macro F1 (and its majority baseline) must be within
``tolerance`` points of the reference's, and both boards must hold the same rows.  Used to check that a
fresh clone's ``make demo`` reproduces the committed ``docs/demo/leaderboard.json``. It also says whether
the two boards' runs trained on the same numerics path (:mod:`harness.report.numerics`). Given several
references (the published board, then boards of the same runs made on other machine types), the new board
is held to the first that shares its numerics path, where bit-for-bit reproduction is expected, else to
the first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report.compact_table import board_rows
from harness.report.numerics import numerics_verdict

KEY = ("model", "condition", "subset")
COMPARED = ("macro_f1", "majority_f1")


@dataclass(frozen=True)
class Difference:
    key: tuple[str, ...]
    field: str
    new: float | None
    reference: float | None

    @property
    def delta(self) -> float:
        if self.new is None or self.reference is None:
            return math.inf
        return abs(self.new - self.reference)

    def describe(self) -> str:
        where = " / ".join(self.key)
        if self.new is None or self.reference is None:
            return f"{where}: {self.field} only in {'the reference' if self.new is None else 'the new board'}"
        change = self.new - self.reference
        return f"{where}: {self.field} {self.new:.1f} vs {self.reference:.1f} (Δ {change:+.1f})"


def _value(row: dict[str, Any] | None, field: str) -> float | None:
    if row is None:
        return None
    value = row.get(field)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def compare_boards(new: Path, reference: Path) -> list[Difference]:
    """Every compared value of every row of either board, largest difference first."""
    a = {tuple(str(r[k]) for k in KEY): r for r in board_rows(new)}
    b = {tuple(str(r[k]) for k in KEY): r for r in board_rows(reference)}
    out = []
    for key in sorted(set(a) | set(b)):
        for field in COMPARED:
            new_value, ref_value = _value(a.get(key), field), _value(b.get(key), field)
            if new_value is None and ref_value is None and key in a and key in b:
                continue  # absent in both (e.g. no majority baseline): nothing to compare
            out.append(Difference(key, field, new_value, ref_value))
    return sorted(out, key=lambda d: -d.delta)


def same_numerics(new: Path, reference: Path) -> tuple[bool | None, str]:
    """:func:`~harness.report.numerics.numerics_verdict` of two leaderboard.json files (readable: call
    :func:`compare_boards` first)."""
    boards = [json.loads(Path(p).read_text()) for p in (new, reference)]
    a, b = (board if isinstance(board, dict) else {} for board in boards)
    return numerics_verdict(a, b)


def choose_reference(new: Path, references: Sequence[Path]) -> Path:
    """The first of ``references`` whose runs share ``new``'s numerics path, else the first (all readable:
    call :func:`compare_boards` on them first)."""
    return next((r for r in references if same_numerics(new, r)[0] is True), references[0])
