"""The leaderboard as a rich table in the terminal: leaf, seen and held-out hypernym F1 per condition."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table


def _fmt(value: Any, ci: tuple[Any, Any] | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:.1f}"
    if ci and all(isinstance(v, int | float) and not math.isnan(v) for v in ci):
        text += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    return text


# short headers and a light frame: the table fits 80 columns without cutting a header
HEADERS: tuple[tuple[str, JustifyMethod], ...] = (
    ("task", "left"),
    ("model / condition", "left"),
    ("seeds", "right"),
    ("leaf", "right"),
    ("seen", "right"),
    ("held-out\n[95% CI]", "right"),
    ("maj.", "right"),
    ("≥80", "right"),
)


def board_table(rows: list[dict[str, Any]]) -> Table:
    """One line per (task, model, condition): macro F1 in percent per subset (held-out with its 95 % CI),
    the held-out majority baseline and whether the leaves meet the F1 >= 80 precondition."""
    table = Table(
        title="taxobench leaderboard: macro F1 %, mean over seeds x categories",
        caption="seen / held-out: hypernyms trained / never trained; maj.: majority baseline (held-out)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for header, justify in HEADERS:
        wrap = header.startswith("model")
        table.add_column(
            header, justify=justify, min_width=len(header), no_wrap=not wrap, ratio=1 if wrap else None
        )
    grouped: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        key = (str(row.get("task", "")), row["model"], row["condition"])
        grouped.setdefault(key, {})[row["subset"]] = row
    for (task, model, condition), subsets in grouped.items():
        leaf, seen, unseen = (subsets.get(s, {}) for s in ("leaf", "seen", "unseen"))
        any_row = leaf or seen or unseen
        table.add_row(
            task,
            f"{model}\n[dim]{condition}[/dim]",
            str(any_row.get("n_seeds", "")),
            _fmt(leaf.get("macro_f1")),
            _fmt(seen.get("macro_f1")),
            _fmt(unseen.get("macro_f1"), (unseen.get("ci_low"), unseen.get("ci_high"))),
            _fmt(unseen.get("majority_f1")),
            {"met": "yes", "not met": "[red]NO[/red]"}.get(any_row.get("leaf_precondition", ""), "—"),
        )
    return table


def print_board(rows: list[dict[str, Any]], console: Console) -> None:
    console.print(board_table(rows))
