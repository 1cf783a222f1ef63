"""`taxobench table`: a compact Markdown table of a leaderboard.json, written between a document's markers."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.compact_table import END, START, condition_cells
from tests.helpers.cli import run_cli
from tests.helpers.runs import synthetic_grid


def board(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    synthetic_grid(runs)
    result = run_cli("report", str(runs), "--out", str(tmp_path / "board"))
    assert result.returncode == 0, result.stderr
    return tmp_path / "board" / "leaderboard.json"


def test_the_table_states_the_leaderboard_rows(tmp_path: Path) -> None:
    path = board(tmp_path)
    rows = json.loads(path.read_text())["rows"]
    out = run_cli("table", str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    conditions = {(r["model"], r["condition"]) for r in rows}
    assert len(lines) == 2 + len(conditions)
    shown = set()
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        match = [r for r in rows if r["model"] == cells[0] and condition_cells(r) == (cells[1], cells[2])]
        by_subset = {r["subset"]: r for r in match}
        assert len(match) == len(by_subset), cells[:3]  # the cells name one condition
        shown.add((cells[0], match[0]["condition"]))
        assert cells[1] == f"random {match[0]['ablation_level']:g} %" and "_" not in cells[2]
        assert cells[3] == str(match[0]["n_seeds"])
        assert cells[4] == f"{by_subset['leaf']['macro_f1']:.1f}"
        unseen = by_subset["unseen"]
        assert cells[5].startswith(
            f"{unseen['macro_f1']:.1f} [{unseen['ci_low']:.1f}, {unseen['ci_high']:.1f}]"
        )
        assert cells[6] == f"{unseen['majority_f1']:.1f}"
        assert cells[8] == ("yes" if by_subset["leaf"]["leaf_precondition"] == "met" else "no")
    assert shown == conditions


def test_into_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    path = board(tmp_path)
    doc = tmp_path / "README.md"
    doc.write_text(f"# Title\n\nbefore\n{START}\nold table\n{END}\nafter\n")
    out = run_cli("table", str(path), "--into", str(doc))
    assert out.returncode == 0, out.stderr
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n" + START + "\n| model |") and text.endswith(
        f"|\n{END}\nafter\n"
    )
    assert "old table" not in text
    again = run_cli("table", str(path), "--into", str(doc))  # idempotent
    assert again.returncode == 0 and doc.read_text() == text


def test_bad_input_is_a_user_error(tmp_path: Path) -> None:
    path = board(tmp_path)
    doc = tmp_path / "plain.md"
    doc.write_text("no markers here\n")
    for args, message in [
        ((str(path), "--into", str(doc)), "has no <!-- taxobench-table:start -->"),
        ((str(path), "--into", str(tmp_path / "missing.md")), "document not found"),
        ((str(tmp_path / "nothing.json"),), "cannot read leaderboard"),
    ]:
        out = run_cli("table", *args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert doc.read_text() == "no markers here\n"


def test_compare_passes_a_board_against_itself_and_names_what_moved(tmp_path: Path) -> None:
    path = board(tmp_path)
    same = run_cli("compare", str(path), str(path))
    assert same.returncode == 0 and "within 1 (largest difference 0.00)" in same.stdout, same.stdout
    data = json.loads(path.read_text())
    assert len(data["rows"]) > 2
    moved, dropped = data["rows"][0], data["rows"].pop()
    moved["macro_f1"] += 1.5
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    result = run_cli("compare", str(other), str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert (
        f"{moved['model']} / {moved['condition']} / {moved['subset']}: macro_f1" in text
        and "(Δ +1.5)" in text
    )
    assert (
        f"{dropped['model']} / {dropped['condition']} / {dropped['subset']}: macro_f1 only in the reference"
        in text
    )
    assert run_cli("compare", str(other), str(path), "--tolerance", "2").returncode == 1  # the dropped row
