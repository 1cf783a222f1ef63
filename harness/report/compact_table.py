"""A compact Markdown table from a leaderboard.json, for documents that quote results (the README).

``taxobench table docs/demo/leaderboard.json --into README.md`` replaces the text between the markers
``<!-- taxobench-table:start -->`` and ``<!-- taxobench-table:end -->`` with the table, so the numbers a
document states are generated from a committed output (tests/test_readme.py checks the README's).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.report.table import shuffle_label

START, END = "<!-- taxobench-table:start -->", "<!-- taxobench-table:end -->"


def board_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a leaderboard.json (an object with ``rows``, or a list of rows)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read leaderboard {path}: {exc}") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise UserError(f"{path}: not a leaderboard.json (no rows)")
    return rows


def _f(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def condition_cells(row: dict[str, Any]) -> tuple[str, str]:
    """(hypernym ablation, training labels) of a board row, e.g. ("random 100 %", "within-category"); a row
    without those fields shows its condition text and no labels."""
    kind, level, shuffle = (row.get(k) for k in ("ablation_kind", "ablation_level", "shuffle"))
    if kind is None or level is None or shuffle is None:
        return str(row["condition"]), ""
    ablation = f"systematic, {level:g} hypernyms" if kind == "systematic" else f"{kind} {level:g} %"
    return ablation, shuffle_label(shuffle)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per (model, condition): its hypernym ablation and training labels, leaf F1, held-out F1
    [95 % CI], its majority baseline, Δ to the random-init control and whether the leaves meet the
    precondition (percent)."""
    grouped: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["model"], row["condition"]), {})[row["subset"]] = row
    header = ["model", "hypernym ablation", "labels", "seeds", "leaf", "held-out hypernyms [95 % CI]"]
    header += ["majority", "Δ random init", "leaf ≥ 80"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for (model, _condition), subsets in grouped.items():
        leaf, unseen = subsets.get("leaf", {}), subsets.get("unseen", {})
        ablation, labels = condition_cells(leaf or unseen)
        held = _f(unseen.get("macro_f1"))
        if unseen.get("ci_low") is not None and not math.isnan(unseen.get("ci_low", math.nan)):
            held += f" [{_f(unseen['ci_low'])}, {_f(unseen['ci_high'])}]"
        delta = unseen.get("delta_random_init")
        delta = None if isinstance(delta, float) and math.isnan(delta) else delta
        met = (leaf or unseen).get("leaf_precondition")
        lines.append(
            f"| {model} | {ablation} | {labels} | {(leaf or unseen).get('n_seeds', '')} | "
            f"{_f(leaf.get('macro_f1'))} | {held} | {_f(unseen.get('majority_f1'))} | "
            f"{'—' if delta is None else f'{delta:+.1f}'} | {'yes' if met == 'met' else 'no'} |"
        )
    return "\n".join(lines)


def replace_between_markers(document: str, table: str) -> str:
    """``document`` with the text between the table markers replaced by ``table``."""
    if START not in document or END not in document:
        raise UserError(f"the document has no {START} ... {END} markers")
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"
