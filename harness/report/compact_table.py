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


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per (model, condition): leaf F1, held-out F1 [95 % CI], its majority baseline, Δ to the
    random-init control and whether the leaves meet the precondition (percent)."""
    grouped: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["model"], row["condition"]), {})[row["subset"]] = row
    header = ["model", "condition", "seeds", "leaf", "held-out hypernyms [95 % CI]", "majority"]
    header += ["Δ random init", "leaf ≥ 80"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for (model, condition), subsets in grouped.items():
        leaf, unseen = subsets.get("leaf", {}), subsets.get("unseen", {})
        held = _f(unseen.get("macro_f1"))
        if unseen.get("ci_low") is not None and not math.isnan(unseen.get("ci_low", math.nan)):
            held += f" [{_f(unseen['ci_low'])}, {_f(unseen['ci_high'])}]"
        delta = unseen.get("delta_random_init")
        delta = None if isinstance(delta, float) and math.isnan(delta) else delta
        met = (leaf or unseen).get("leaf_precondition")
        lines.append(
            f"| {model} | {condition} | {(leaf or unseen).get('n_seeds', '')} | {_f(leaf.get('macro_f1'))} | "
            f"{held} | {_f(unseen.get('majority_f1'))} | "
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
