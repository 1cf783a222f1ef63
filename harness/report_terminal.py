"""The leaderboard as a rich table in the terminal: leaf, seen and held-out hypernym F1 per condition."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

CONDITION_KEYS = ("model", "condition")


def _fmt(value: Any, ci: tuple[Any, Any] | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:.1f}"
    if ci and all(isinstance(v, int | float) and not math.isnan(v) for v in ci):
        text += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    return text


def board_table(rows: list[dict[str, Any]]) -> Table:
    """One line per (model, condition): F1 (mean [95 % CI], percent) per subset and the majority baseline."""
    table = Table(title="taxobench leaderboard (macro F1, %, mean [95 % CI] over seeds x categories)")
    for col in (
        "model",
        "condition",
        "seeds",
        "leaf",
        "seen hypernyms",
        "held-out hypernyms",
        "majority (held-out)",
        "leaf ≥ 80",
    ):
        table.add_column(col, justify="left" if col in CONDITION_KEYS else "right")
    grouped: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["model"], row["condition"]), {})[row["subset"]] = row
    for (model, condition), subsets in grouped.items():
        leaf, seen, unseen = (subsets.get(s, {}) for s in ("leaf", "seen", "unseen"))
        any_row = leaf or seen or unseen
        table.add_row(
            model,
            condition,
            str(any_row.get("n_seeds", "")),
            _fmt(leaf.get("macro_f1"), (leaf.get("ci_low"), leaf.get("ci_high"))),
            _fmt(seen.get("macro_f1"), (seen.get("ci_low"), seen.get("ci_high"))),
            _fmt(unseen.get("macro_f1"), (unseen.get("ci_low"), unseen.get("ci_high"))),
            _fmt(unseen.get("majority_f1")),
            {"met": "yes", "not met": "[red]NO[/red]"}.get(any_row.get("leaf_precondition"), "—"),
        )
    return table


def print_board(rows: list[dict[str, Any]], console: Console) -> None:
    console.print(board_table(rows))
