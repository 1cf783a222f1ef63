"""The report: aggregation arithmetic, baselines, the leaf flag, plots, the headline figure and its
reading, Markdown notes, provenance and outputs on synthetic runs."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats as sps

from harness.errors import UserError
from harness.report.analysis import condition_tests
from harness.report.build import config_hash, report
from harness.report.load import load_runs
from harness.report.markdown import md_escape
from harness.report.plots import DPI, HEADLINE_WIDTH_IN
from harness.report.table import aggregate, headline, headline_reading
from harness.runs.store import RunDir
from tests.helpers.runs import HYPERNYMS, make_run, synthetic_grid


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> tuple[Path, dict, list[Path]]:
    root = tmp_path_factory.mktemp("runs")
    dirs = synthetic_grid(root)
    make_run(root, seed=9, f1={"leaf": {"leaf0": 0.1}}, done=False)  # unfinished: must be ignored
    out = tmp_path_factory.mktemp("board")
    report([root], out, console=None)
    return out, json.loads((out / "analysis.json").read_text()), dirs


def _direct(dirs: list[Path], **where) -> np.ndarray:
    """F1 values (percent) of the runs matching ``where`` and subset, straight from the parquet files."""
    subset = where.pop("subset")
    values = []
    for d in dirs:
        s = json.loads((d / "summary.json").read_text())
        if all(s[k] == v for k, v in where.items()):
            m = pd.read_parquet(d / "metrics.parquet")
            values += list(m.loc[m["subset"] == subset, "f1"] * 100)
    return np.array(values)


def test_outputs_exist(board):
    out, data, _ = board
    for name in ("leaderboard.json", "analysis.json", "leaderboard.md", "leaderboard.html"):
        assert (out / name).stat().st_size > 0
    board = json.loads((out / "leaderboard.json").read_text())
    assert isinstance(board, dict) and set(board) == {"provenance", "rows"}
    rows = board["rows"]
    assert isinstance(rows, list) and rows == data["rows"]
    assert board["provenance"] == data["provenance"]
    assert list((out / "plots").glob("*.png"))
    required = {
        "task",
        "encoder",
        "backbone",
        "init",
        "ablation_kind",
        "ablation_level",
        "shuffle",
        "subset",
        "n_runs",
        "macro_f1",
        "ci_low",
        "ci_high",
        "majority_f1",
    }
    assert required <= set(data["rows"][0])


def test_rows_match_direct_computation(board):
    _, data, dirs = board
    rows = pd.DataFrame(data["rows"])
    assert len(rows) == 4 * 2 * 2 * 2 + 4 * 2 * 1  # leaf+unseen everywhere, seen at 50 % only
    where = dict(
        encoder="enc-a", backbone="lm-x", init="pretrained", ablation_level=100.0, shuffle="original"
    )
    r = rows[(rows[list(where)] == pd.Series(where)).all(axis=1) & (rows["subset"] == "unseen")].iloc[0]
    x = _direct(dirs, subset="unseen", **where)
    assert r["macro_f1"] == pytest.approx(x.mean())
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert r["se"] == pytest.approx(se)
    half = sps.t.ppf(0.975, len(x) - 1) * se
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert r["n_runs"] == 3 and r["n_seeds"] == 3 and r["n_categories"] == len(HYPERNYMS)
    assert r["majority_f1"] == pytest.approx(40.0)
    assert r["delta_majority"] == pytest.approx(x.mean() - 40.0)
    ctrl = _direct(dirs, subset="unseen", **{**where, "init": "random"})
    assert r["delta_random_init"] == pytest.approx(x.mean() - ctrl.mean())


def test_leaf_precondition_flag(board):
    out, data, _ = board
    rows = pd.DataFrame(data["rows"])
    weak = rows[rows["backbone"] == "lm-weak"]
    assert (weak["leaf_precondition"] == "not met").all()
    assert (rows.loc[rows["backbone"] == "lm-x", "leaf_precondition"] == "met").all()
    md = (out / "leaderboard.md").read_text()
    table_rows = [line for line in md.splitlines() if "| toy |" in line]  # headline and results tables
    flagged = [line for line in table_rows if "lm-weak" in line]
    assert len(flagged) == len(weak) + 1 and all("⚠" in line for line in flagged)
    assert not any("⚠" in line for line in table_rows if "lm-x" in line)
    html = (out / "leaderboard.html").read_text()
    assert html.count('<tr class="flag">') == len(weak) + 1  # + the headline row of lm-weak
    assert "rows marked ⚠ are also shaded" in html  # the shading is explained in the legend


class _ModelCells(HTMLParser):
    """(table id, text of the first text cell = the model) of every body row of the sortable tables."""

    def __init__(self) -> None:
        super().__init__()
        self.table, self.cells, self.rows = None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id")
        elif tag == "tr" and self.table:
            self.cells = []
        elif tag == "td" and self.cells is not None:
            self.cells.append([a.get("class"), ""])

    def handle_data(self, data):
        if self.cells:
            self.cells[-1][1] += data

    def handle_endtag(self, tag):
        if tag == "tr" and self.cells:
            model = next(text for cls, text in self.cells if cls == "t")
            self.rows.append((self.table, model.strip()))
            self.cells = None
        elif tag == "table":
            self.table = None


def test_flag_in_model_cell_of_flagged_rows_only(board):
    """⚠ goes where the legend says: in the model cell of every row failing the leaf precondition, in the
    headline and results tables of the Markdown and HTML pages, and nowhere else in those tables."""
    out, data, _ = board
    rows = pd.DataFrame(data["rows"])
    n_flagged = int((rows["leaf_precondition"] == "not met").sum())
    n_head_flagged = sum(h["leaf_precondition"] == "not met" for h in data["headline"])
    assert n_flagged and n_head_flagged == 1
    md = (out / "leaderboard.md").read_text()
    cells = [[c.strip() for c in line.split(" | ")] for line in md.splitlines() if "| toy |" in line]
    models = [c[1] if c[0].lstrip("| ").isdigit() else c[0].lstrip("| ") for c in cells]
    assert len(models) == len(rows) + len(data["headline"])
    assert sorted(m for m in models if "⚠" in m) == ["enc-a + lm-weak ⚠"] * (n_flagged + n_head_flagged)
    assert all("⚠" not in c for line in cells for c in line[1:] if c not in models)  # only in the model cell
    parser = _ModelCells()
    parser.feed((out / "leaderboard.html").read_text())
    by_table = {t: [m for tt, m in parser.rows if tt == t] for t in ("headline", "results")}
    assert len(by_table["headline"]) == len(data["headline"]) and len(by_table["results"]) == len(rows)
    expected = {"headline": data["headline"], "results": data["rows"]}
    for table, models in by_table.items():
        for model, row in zip(models, expected[table], strict=True):
            assert model == (f"{row['model']} ⚠" if row["leaf_precondition"] == "not met" else row["model"])


def test_headline_ranks_unseen_full_ablation(board):
    _, data, _ = board
    head = data["headline"]
    assert [h["rank"] for h in head] == list(range(1, len(head) + 1))
    assert all(
        h["subset"] == "unseen" and h["ablation_level"] == 100 and h["shuffle"] == "original" for h in head
    )
    f1 = [h["macro_f1"] for h in head]
    assert f1 == sorted(f1, reverse=True)
    assert head[-1]["init"] == "random"


def test_statistics_and_plots_reported(board):
    _, data, _ = board
    st = data["statistics"]
    assert st["encoder_effect"]["status"] == "ok"
    assert st["encoder_effect"]["n_obs"] == 2 * 3 * len(HYPERNYMS)
    tests = st["welch_tests"]["tests"]
    shuffled = [t for t in tests if t["model"].startswith("enc-a + lm-x") and t["b"] == "across_category"]
    assert shuffled and shuffled[0]["p"] < 0.001 and shuffled[0]["diff"] > 15
    assert st["coherence"]["correlations"]["status"] == "ok"
    assert st["coherence"]["mixed_model"]["status"] == "skipped"  # no probe results in this grid
    plots = data["plots"]
    for name in (
        "headline",
        "fig4_ablation_random",
        "fig6_shuffles",
        "fig7_coherence",
        "fig12_depth",
        "fig3_encoders",
    ):
        assert "file" in plots[name], (name, plots[name])
        assert re.search(
            r"n = \d+(–\d+)? seeds × \d+(–\d+)? (categories|hypernyms)", plots[name]["caption"]
        ) or (name == "fig7_coherence" and "mean over 3 seeds" in plots[name]["caption"]), plots[name][
            "caption"
        ]
    assert "skipped" in plots["fig4_ablation_systematic"]


def test_plots_print_quality(board):
    """Every plot at DPI >= 200 and of reasonable size; headline.png 1600 px wide (>= 1200)."""
    out, data, _ = board
    assert DPI >= 200
    for name, p in data["plots"].items():
        if "file" not in p:
            continue
        path = out / "plots" / p["file"]
        with Image.open(path) as img:
            assert img.info["dpi"][0] == pytest.approx(DPI, abs=1), name
        assert path.stat().st_size < 300_000, (name, path.stat().st_size)
    with Image.open(out / "plots" / "headline.png") as img:
        assert img.width == round(HEADLINE_WIDTH_IN * DPI) >= 1200


def test_headline_figure_first_under_headline_table(board):
    out, data, _ = board
    md = (out / "leaderboard.md").read_text()
    head_section = md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    images = re.findall(r"!\[[^\n]*\]\((plots/[^)]+)\)", md)
    assert images[0] == "plots/headline.png" and images.count("plots/headline.png") == 1
    assert head_section.index("| 1 |") < head_section.index("](plots/headline.png)")
    assert head_section.index("](plots/headline.png)") < head_section.index("**Reading**")
    page = (out / "leaderboard.html").read_text()
    first_img = page.index("<img")
    assert page.index('<table id="headline"') < first_img < page.index("<h2>Statistics")
    assert page[:first_img].endswith('<figure class="headline" id="headline-figure">')
    assert page.count("<img") == sum("file" in p for p in data["plots"].values())  # headline shown once


def test_plots_skip_cleanly_without_variation(tmp_path):
    root = tmp_path / "runs"
    for seed in (1, 2):
        make_run(root, seed=seed, f1={"leaf": {"a": 0.9, "b": 0.8}, "unseen": {"animal": 0.7, "tool": 0.6}})
    board = json.loads((report([root], tmp_path / "out") / "analysis.json").read_text())
    assert all(
        "skipped" in p for name, p in board["plots"].items() if name not in ("fig12_depth", "headline")
    )
    assert "file" in board["plots"]["headline"]  # one model, original labels at 100 %: still a headline
    assert board["statistics"]["encoder_effect"]["status"] == "skipped"
    assert board["statistics"]["welch_tests"]["status"] == "skipped"
    assert len(board["rows"]) == 2


def test_unfinished_and_missing(tmp_path):
    make_run(tmp_path / "runs", f1={"leaf": {"a": 0.5}}, done=False)
    with pytest.raises(UserError, match="no finished run"):
        load_runs([tmp_path / "runs"])
    with pytest.raises(UserError, match="not found"):
        load_runs([tmp_path / "nope"])


def test_single_run_dir_and_nan_ci(tmp_path):
    d = make_run(tmp_path, f1={"leaf": {"a": 0.9}, "unseen": {"animal": 0.5}})
    rows = aggregate(load_runs([d]).metrics)
    un = rows[rows["subset"] == "unseen"].iloc[0]
    assert un["macro_f1"] == pytest.approx(50.0) and np.isnan(un["ci_low"])
    assert len(headline(rows)) == 1


NOTES = (
    "**Deviations** from the paper:\n"
    "- Task `emoji` instead of THINGS\n"
    "- See [the protocol](https://example.org/protocol)\n\n"
    "Raw <script>alert(1)</script> and <img src=x onerror=alert(1)> stay text."
)


def test_notes_markdown_rendered(tmp_path):
    """--notes Markdown becomes HTML (list, code, link, bold) through markdown-it; raw HTML is escaped."""
    root = tmp_path / "runs"
    make_run(root, f1={"leaf": {"a": 0.9, "b": 0.8}, "unseen": {"animal": 0.7, "tool": 0.6}})
    out = report([root], tmp_path / "out", notes=NOTES)
    page = (out / "leaderboard.html").read_text()
    notes = page.split('<div class="notes">', 1)[1].split("</div>", 1)[0]
    assert "<p><strong>Deviations</strong> from the paper:</p>" in notes
    assert re.search(
        r"<ul>\s*<li>Task <code>emoji</code> instead of THINGS</li>\s*"
        r'<li>See <a href="https://example.org/protocol">the protocol</a></li>\s*</ul>',
        notes,
    ), notes
    assert "**" not in page and "`" not in page  # no Markdown left raw anywhere (notes and statistics)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in notes and "&lt;img src=x onerror=alert(1)&gt;" in notes
    assert page.count("<script") == 1 and "<img src=x" not in page
    assert NOTES in (out / "leaderboard.md").read_text()  # the Markdown page keeps the notes as written


def _reading_runs(root: Path) -> None:
    """lm-x: original well above majority (40) and above its random-init LM; within ≈ original; across
    far below and failing the leaf precondition, as does the random-init LM.  lm-y: original around the
    majority baseline (its CI includes 40)."""
    spread = {"animal": -0.06, "bird": -0.02, "tool": 0.02, "vehicle": 0.06}
    models = [
        ("lm-x", "pretrained", "original", 0.75, 0.95),
        ("lm-x", "pretrained", "within_category", 0.73, 0.92),
        ("lm-x", "pretrained", "across_category", 0.50, 0.60),
        ("lm-x", "random", "original", 0.45, 0.50),
        ("lm-y", "pretrained", "original", 0.41, 0.90),
    ]
    for backbone, init, shuffle, unseen, leaf in models:
        scale = 5 if backbone == "lm-y" else 1  # lm-y: hypernym F1 from 11 to 71
        for seed in (1, 2, 3):
            make_run(
                root,
                backbone=backbone,
                init=init,
                shuffle=shuffle,
                seed=seed,
                f1={
                    "leaf": {leaf_: leaf + 0.01 * (seed - 2) for leaf_ in ("a", "b", "c")},
                    "unseen": {c: unseen + scale * d + 0.005 * (seed - 2) for c, d in spread.items()},
                },
            )


def test_welch_tests_compare_within_with_across_category(tmp_path):
    root = tmp_path / "runs"
    _reading_runs(root)
    tests = condition_tests(load_runs([root]))["tests"]
    pairs = {(t["model"], t["a"], t["b"]): t for t in tests}
    t = pairs[("enc-a + lm-x", "within_category", "across_category")]
    assert t["mean_a"] == pytest.approx(73.0) and t["mean_b"] == pytest.approx(50.0) and t["p"] < 0.001
    assert ("enc-a + lm-x", "original", "within_category") in pairs  # the original-vs-shuffle pairs stay
    assert not any(m == "enc-a + lm-y" and a == "within_category" for m, a, _ in pairs)  # lm-y has none


def test_reading_states_what_the_cis_support(tmp_path):
    root = tmp_path / "runs"
    _reading_runs(root)
    rows = aggregate(load_runs([root]).metrics)
    un = rows[rows["subset"] == "unseen"].set_index(["backbone", "init", "shuffle"])

    def val(*key: str) -> str:
        r = un.loc[key]
        return f"{r['macro_f1']:.1f} [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"

    orig, within = un.loc["lm-x", "pretrained", "original"], un.loc["lm-x", "pretrained", "within_category"]
    across, rand = un.loc["lm-x", "pretrained", "across_category"], un.loc["lm-x", "random", "original"]
    y = un.loc["lm-y", "pretrained", "original"]
    # the premises of the expected sentences
    assert orig["ci_low"] > 40 and orig["ci_low"] > rand["ci_high"] and y["ci_low"] < 40 < y["ci_high"]
    assert within["ci_high"] > orig["ci_low"] and across["ci_high"] < min(orig["ci_low"], within["ci_low"])
    text = headline_reading(rows)
    assert (
        f"enc-a + lm-x, pretrained, original labels: {val('lm-x', 'pretrained', 'original')} is above the "
        f"majority baseline 40.0 (CI excludes it), and is above the random-init LM "
        f"{val('lm-x', 'random', 'original')} ⚠ (CIs do not overlap)."
    ) in text
    assert (
        f"Against the original labels: within-category {val('lm-x', 'pretrained', 'within_category')} "
        "is not separated from it (CIs overlap); across-category "
        f"{val('lm-x', 'pretrained', 'across_category')} ⚠ is below it (CIs do not overlap)."
    ) in text
    assert "Within-category is above across-category (CIs do not overlap)." in text
    assert (
        f"enc-a + lm-y, pretrained, original labels: {val('lm-y', 'pretrained', 'original')} is not "
        "distinguishable from the majority baseline 40.0 (CI includes it)."
    ) in text
    assert text.index("enc-a + lm-x,") < text.index("enc-a + lm-y,")  # groups ranked by original F1
    flagged = text.split("⚠ The leaf precondition (leaf F1 ≥ 80) is not met by: ", 1)[1]
    assert flagged == (
        f"enc-a + lm-x, across-category (leaf {across['leaf_f1']:.1f}); enc-a + lm-x (random init), original "
        f"(leaf {rand['leaf_f1']:.1f}); their hypernym numbers are not interpretable."
    )
    assert headline_reading(rows.iloc[::-1]) == text  # deterministic, whatever the row order
    out = report([root], tmp_path / "out")
    assert json.loads((out / "analysis.json").read_text())["reading"] == text
    md = (out / "leaderboard.md").read_text()
    assert f"**Reading**: {md_escape(text)}" in md
    page = (out / "leaderboard.html").read_text()
    assert f"<b>Reading</b>: {htmllib.escape(text)}</p>" in page


def test_reading_when_every_row_meets_the_precondition():
    rows = aggregate(
        pd.DataFrame(
            {
                "run_key": ["r1"] * 3 + ["r2"] * 3,
                "seed": [1] * 3 + [2] * 3,
                "subset": ["leaf", "unseen", "unseen"] * 2,
                "category": ["a", "animal", "tool"] * 2,
                "f1": [0.9, 0.7, 0.72, 0.92, 0.71, 0.69],
                "majority_f1": [0.4] * 6,
                **{k: [v] * 6 for k, v in {"source": "taxobench", "task": "toy", "encoder": "e"}.items()},
                **{
                    k: [v] * 6
                    for k, v in {"backbone": "b", "init": "pretrained", "shuffle": "original"}.items()
                },
                "ablation_kind": ["random"] * 6,
                "ablation_level": [100.0] * 6,
            }
        )
    )
    text = headline_reading(rows)
    assert "is above the majority baseline 40.0 (CI excludes it)." in text and "⚠" not in text
    assert text.endswith("Every row meets the leaf precondition (leaf F1 ≥ 80).")
    assert headline_reading(rows[rows["subset"] == "leaf"]).startswith("There are no held-out-hypernym")


def test_provenance_in_json_md_html(board):
    out, data, dirs = board
    prov = json.loads((out / "leaderboard.json").read_text())["provenance"]
    assert prov == data["provenance"]
    assert prov["taxobench_version"] == prov["versions"]["taxobench"] and "git_commit" in prov
    assert {"python", "pandas", "numpy", "matplotlib", "markdown-it-py"} <= set(prov["versions"])
    assert prov["platform"] and prov["device"] and prov["compute"]["cpu"]
    assert "host" not in prov  # the host name is not published
    created = datetime.fromisoformat(prov["created"])
    assert created.utcoffset().total_seconds() == 0 and abs((datetime.now(UTC) - created).days) < 1
    root = dirs[0].parent
    assert prov["command"] == "taxobench report" and prov["inputs"] == [str(root)]
    assert prov["n_runs"] == len(dirs) == data["n_runs"]
    assert re.fullmatch(r"[0-9a-f]{64}", prov["config_hash"])
    assert prov["config_hash_of"] == f"run ids of {len(dirs)} runs without config.toml"
    md = (out / "leaderboard.md").read_text()
    block = md.split("\n## Provenance\n", 1)[1]
    for text in (prov["created"], md_escape(str(root)), prov["config_hash"][:16], str(prov["git_commit"])):
        assert md_escape(text) in block or text in block, text
    assert f"{len(dirs)} finished runs" in block
    page = (out / "leaderboard.html").read_text()
    block = page.split("<h2>Provenance</h2>", 1)[1].split("<script>", 1)[0]
    assert page.index('<table id="results"') < page.index("<h2>Provenance</h2>")
    for text in (prov["created"], str(root), prov["config_hash"][:16], str(prov["git_commit"])):
        assert htmllib.escape(text) in block, text


def test_config_hash_deterministic_and_content_based(tmp_path):
    root = tmp_path / "runs"
    dirs = [make_run(root, seed=s, f1={"leaf": {"a": 0.9}}) for s in (1, 2)]
    runs = load_runs([root]).runs
    h0, of0 = config_hash(runs)
    assert of0 == "run ids of 2 runs without config.toml"
    assert config_hash(runs.iloc[::-1]) == (h0, of0)  # the order the runs were found in does not matter
    for i, d in enumerate(dirs):
        (d / "config.toml").write_text(f"seed = {i}\n")
    h1, of1 = config_hash(runs)
    assert of1 == "config.toml of 2 runs" and h1 != h0 and config_hash(runs)[0] == h1
    (dirs[0] / "config.toml").write_text("seed = 99\n")
    assert config_hash(runs)[0] not in (h0, h1)
    for i, d in enumerate(dirs):  # where a checkout wrote, cached and read is not part of the configuration
        (d / "config.toml").write_text(
            f'seed = {i}\noutput_dir = "/clone-{i}/runs"\ncache_dir = "/clone-{i}/cache"\n'
            f'[task_options]\nroot = "/clone-{i}/images"\n'
        )
    located = config_hash(runs)[0]
    for i, d in enumerate(dirs):
        (d / "config.toml").write_text(f"seed = {i}\n[task_options]\n")
    assert config_hash(runs)[0] == located
    (dirs[0] / "config.toml").write_text('seed = 0\n[task_options]\nroot = "/x"\naugment = 2\n')
    assert config_hash(runs)[0] != located  # a task option other than its root still counts


def test_fig6_with_one_ablation_level_is_drawn_by_condition(tmp_path):
    """One ablation level: Fig. 6 shows a point per shuffle (no line over a degenerate level axis)."""
    root = tmp_path / "runs"
    for shuffle, unseen in (("original", 0.7), ("within_category", 0.68), ("across_category", 0.5)):
        for seed in (1, 2):
            make_run(
                root,
                shuffle=shuffle,
                seed=seed,
                f1={"leaf": {"a": 0.9, "b": 0.85}, "unseen": {"animal": unseen, "tool": unseen + 0.05}},
            )
    plots = json.loads((report([root], tmp_path / "out") / "analysis.json").read_text())["plots"]
    assert plots["fig6_shuffles"]["caption"].startswith(
        "Held-out hypernym F1 by label shuffle at 100 % ablation, by condition (Fig. 6)"
    )
    assert "n = 2 seeds × 2 hypernyms per point" in plots["fig6_shuffles"]["caption"]
    assert "file" in plots["headline"] and "skipped" in plots["fig4_ablation_random"]


def test_training_curves_read_from_logs_and_drawn(tmp_path):
    """Each run's training records (step, loss) become its curve, validation and broken lines left out; the
    report draws them in one panel per task and model, pretrained and random-init LM together."""
    root = tmp_path / "runs"
    f1 = {"leaf": {"a": 0.9}, "unseen": {"animal": 0.7}}
    flat = [{"kind": "train", "step": s, "loss": 7.3} for s in (10, 20, 30)]
    falling = [{"kind": "train", "step": s, "loss": 1.0 / s} for s in (10, 20, 30)]
    falling.insert(1, {"kind": "val", "step": 10, "val_loss": 0.5})
    make_run(root, seed=1, f1=f1, train_log=falling)
    make_run(root, seed=1, init="random", f1=f1, train_log=flat)
    make_run(root, seed=2, f1=f1)  # no log: no curve, still on the board
    broken = make_run(root, seed=3, f1=f1, done=False)
    (broken / "train_log.jsonl").write_text('{"kind": "train", "step": 10, "loss": 1}\nnot json\n')
    RunDir(broken).mark_done()
    data = load_runs([root])
    curves = data.curves.merge(data.runs[["run_key", "init", "seed"]], on="run_key")
    by_run = {key: g for key, g in curves.groupby(["init", "seed"])}
    assert sorted(by_run) == [("pretrained", 1), ("pretrained", 3), ("random", 1)]
    assert list(by_run[("pretrained", 1)]["step"]) == [10, 20, 30]
    assert list(by_run[("pretrained", 1)]["loss"]) == pytest.approx([0.1, 0.05, 1 / 30])
    assert list(by_run[("random", 1)]["loss"]) == [7.3] * 3 and len(by_run[("pretrained", 3)]) == 1
    board = json.loads((report([root], tmp_path / "out") / "analysis.json").read_text())
    plot = board["plots"]["training_curves"]
    assert plot["file"] == "training_curves.png" and "3 runs" in plot["caption"]
    with Image.open(tmp_path / "out" / "plots" / "training_curves.png") as img:
        assert img.info["dpi"][0] == pytest.approx(DPI, abs=1)
