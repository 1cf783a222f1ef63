"""Import of the paper's published CSVs: run-name grammar, conversion, and agreement with pandas."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness.errors import UserError
from harness.report.build import report
from harness.report.published import file_role, import_published, parse_run_name, published_taxonomy
from tests.helpers.paths import REPO

PUBLISHED = REPO / "leaderboard" / "published"
SUBSET_FILES = [
    "8b_leaf_f1_scores.csv",
    "8b_unseen_f1_scores.csv",
    "cat_unseen_f1_scores.csv",
    "cat_sampled_unseen_f1_scores.csv",
    "all_hyp_guess_f1_scores.csv",
    "all_leaf_guess_f1_scores.csv",
    "catwise_hyp_guess_f1_scores.csv",
    "visual_coherence_results.csv",
    "coherence_backbone.csv",
]


@pytest.mark.parametrize(
    "name,expected",
    [
        (
            "align-dinov2+500m-things-42",
            ("dinov2-large", "qwen3-0.6b", "pretrained", "random", 100, "original", 42),
        ),
        (
            "align-dinov2+1b-things+hyp-abl30-7-random",
            ("dinov2-large", "qwen3-1.7b", "random", "random", 30, "original", 7),
        ),
        (
            "align-siglip+1b-things-218",
            ("siglip-so400m", "qwen3-1.7b", "pretrained", "random", 100, "original", 218),
        ),
        (
            "align-dinov2+1b-llama-things+hyp-abl20cat-local-shuffled-42",
            ("dinov2-large", "llama-3.2-1b", "pretrained", "systematic", 20, "within_category", 42),
        ),
        (
            "align-dinov2+1b-llama-chat-things+hyp-abl90-shuffled-7",
            ("dinov2-large", "llama-3.2-1b-instruct", "pretrained", "random", 90, "across_category", 7),
        ),
        (
            "align-dinov2+1b-llama-instruct-things-7",
            ("dinov2-large", "llama-3.2-1b-instruct", "pretrained", "random", 100, "original", 7),
        ),
        (
            "align-dinov2+8b-things-local-shuffled-218",
            ("dinov2-large", "qwen3-8b", "pretrained", "random", 100, "within_category", 218),
        ),
        (
            "align-dinov2+500m-things-cat-shuffled-42",
            ("dinov2-large", "qwen3-0.6b", "pretrained", "random", 100, "hypernym_swap", 42),
        ),
    ],
)
def test_parse_run_name(name, expected):
    r = parse_run_name(name)
    got = (r.encoder, r.backbone, r.init, r.ablation_kind, r.ablation_level, r.shuffle, r.seed)
    assert got == expected


@pytest.mark.parametrize(
    "name",
    [
        "align-clip+500m-things-42",  # unknown encoder
        "align-dinov2+3b-things-42",  # unknown LM
        "align-dinov2+500m-things+hyp-abl0-42",  # 0 %
        "align-dinov2+500m-things+hyp-abl120-42",  # > 100 %
        "align-dinov2+500m-things+hyp-abl60cat-42",  # > 53 hypernyms
        "align-dinov2+500m-things-shuffled",  # no seed
        "align-dinov2+500m-things-42-pretrained",  # unknown suffix
        "test_hyp",
    ],
)
def test_reject_unknown_run_names(name):
    with pytest.raises(UserError, match="unknown published run name|ablation"):
        parse_run_name(name)


def test_every_published_name_parses_and_has_a_baseline():
    guesses: dict[str, set[str]] = {"leaf": set(), "hyp": set()}
    runs: list[tuple[str, str]] = []
    for path in sorted(PUBLISHED.glob("*_f1_scores.csv")):
        kind, subset = file_role(path)
        names = pd.read_csv(path, usecols=[0])["run_name"]
        if kind == "guess":
            guesses[subset] |= set(names)
        else:
            runs += [(n, subset) for n in names]
    assert len(runs) > 1000
    for name, subset in runs:
        key = parse_run_name(name).guess_key(subset)
        assert key in guesses["leaf" if subset == "leaf" else "hyp"], (name, subset, key)


def test_file_roles():
    assert file_role(Path("all_unseen_f1_scores.csv")) == ("runs", "unseen")
    assert file_role(Path("llama_seen_f1_scores.csv")) == ("runs", "seen")
    assert file_role(Path("cat_sampled_leaf_f1_scores.csv")) == ("runs", "leaf")
    assert file_role(Path("catwise_hyp_guess_f1_scores.csv")) == ("guess", "hyp")
    assert file_role(Path("coherence_backbone.csv")) is None
    with pytest.raises(UserError, match="subset"):
        file_role(Path("mystery_f1_scores.csv"))


def test_published_runs_carry_the_papers_depths():
    depths = published_taxonomy().depths
    assert len(depths) == 53 and sorted(depths.values()).count(1) == 41
    assert (depths["clothing"], depths["animal"], depths["bird"]) == (3, 2, 1)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, Path, int]:
    src = tmp_path_factory.mktemp("published")
    for name in SUBSET_FILES:
        shutil.copy(PUBLISHED / name, src / name)
    out = tmp_path_factory.mktemp("runs")
    n = import_published(src, out)
    return src, out, n


def test_import_writes_run_directories(imported):
    src, out, n = imported
    assert n == 9 + 3 + 3  # 8b (9 runs, leaf + unseen), cat-shuffled (3), cat-sampled (3)
    run = out / "align-dinov2+8b-things-42"
    assert (run / "DONE").is_file()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["source"] == "published" and summary["reference"] == "Xu et al. 2026, published"
    assert (summary["backbone"], summary["shuffle"], summary["seed"]) == ("qwen3-8b", "original", 42)
    m = pd.read_parquet(run / "metrics.parquet")
    assert list(m.columns) == ["subset", "category", "depth", "n_yes", "n_no", "f1", "majority_f1"]
    assert set(m["subset"]) == {"leaf", "unseen"}
    un = m[m["subset"] == "unseen"]
    assert (
        len(un) == 53 and "musical" not in set(un["category"]) and "musical instrument" in set(un["category"])
    )
    assert "part of car" in set(un["category"]) and un["depth"].notna().all()
    csv = pd.read_csv(src / "8b_unseen_f1_scores.csv").set_index("run_name")
    assert (
        un.set_index("category").loc["musical instrument", "f1"]
        == csv.loc["align-dinov2+8b-things-42", "musical"]
    )
    guess = pd.read_csv(src / "all_hyp_guess_f1_scores.csv").set_index("run_name")
    assert un.set_index("category").loc["part of car", "majority_f1"] == guess.loc["test_hyp", "car part"]
    leaf = m[m["subset"] == "leaf"]
    assert (leaf["depth"] == 0).all() and "air_conditioner" in set(leaf["category"])
    coh = pd.read_parquet(run / "coherence.parquet")
    assert len(coh) == 53 and coh["avg_cosine"].between(0, 1).all()
    assert len(list(out.glob("probe-*/DONE"))) == 2
    swap = pd.read_parquet(out / "align-dinov2+500m-things-cat-shuffled-42" / "metrics.parquet")
    assert swap["majority_f1"].notna().all() and len(swap) == 10


def test_import_rejects_unknown_names(tmp_path):
    (tmp_path / "x_unseen_f1_scores.csv").write_text(
        "run_name,animal\nalign-dinov2+500m-things-42,0.5\nmy-run,0.4\n"
    )
    with pytest.raises(UserError, match=r"x_unseen_f1_scores.csv: unknown published run name 'my-run'"):
        import_published(tmp_path, tmp_path / "out")
    with pytest.raises(UserError, match="not found"):
        import_published(tmp_path / "missing", tmp_path / "out")


def _direct(src: Path) -> pd.DataFrame:
    """Macro F1 per condition x subset computed directly from the CSVs (percent), seeds stripped."""
    records = []
    for path in src.glob("*_f1_scores.csv"):
        if "guess" in path.name:
            continue
        subset = re.search(r"_(leaf|seen|unseen)_", path.name).group(1)
        df = pd.read_csv(path).set_index("run_name")
        condition = df.index.str.replace(r"-\d+(-random)?$", r"\1", regex=True)
        for cond, g in df.groupby(condition):
            x = g.to_numpy(float).ravel() * 100
            se = x.std(ddof=1) / np.sqrt(len(x))
            half = sps.t.ppf(0.975, len(x) - 1) * se
            records.append(
                {
                    "condition": cond,
                    "subset": subset,
                    "f1": x.mean(),
                    "lo": x.mean() - half,
                    "hi": x.mean() + half,
                    "n_runs": len(g),
                }
            )
    return pd.DataFrame(records)


def test_report_on_published_agrees_with_pandas(imported, tmp_path):
    src, runs, _ = imported
    out = report([runs], tmp_path / "board")
    board = json.loads((out / "analysis.json").read_text())
    rows = pd.DataFrame(board["rows"])
    expected = _direct(src)
    assert len(rows) == len(expected)
    shuffle_of = {
        "": "original",
        "-shuffled": "across_category",
        "-local-shuffled": "within_category",
        "-cat-shuffled": "hypernym_swap",
        "-cat-sampled": "hypernym_swap_control",
    }
    for _, e in expected.iterrows():
        suffix = e["condition"].split("-things", 1)[1]
        backbone = "qwen3-8b" if "+8b-" in e["condition"] else "qwen3-0.6b"
        r = rows[
            (rows["backbone"] == backbone)
            & (rows["shuffle"] == shuffle_of[suffix])
            & (rows["subset"] == e["subset"])
        ]
        assert len(r) == 1, e["condition"]
        r = r.iloc[0]
        assert (r["macro_f1"], r["ci_low"], r["ci_high"]) == pytest.approx((e["f1"], e["lo"], e["hi"]))
        assert r["n_runs"] == e["n_runs"] == 3
    # majority baselines straight from the guess files
    guess = pd.read_csv(src / "all_hyp_guess_f1_scores.csv").set_index("run_name")
    for shuffle, row in [
        ("original", "test_hyp"),
        ("across_category", "test_hyp_shuffled"),
        ("within_category", "test_hyp_local_shuffled"),
    ]:
        r = rows[
            (rows["backbone"] == "qwen3-8b") & (rows["shuffle"] == shuffle) & (rows["subset"] == "unseen")
        ]
        assert r["majority_f1"].iloc[0] == pytest.approx(guess.loc[row].mean() * 100)
    for name in ("leaderboard.md", "leaderboard.html"):
        assert (out / name).stat().st_size > 0


def test_published_8b_matches_paper(imported, tmp_path):
    """PROTOCOL §7.3: Qwen3-8B at 100 %: original 78.4, across 50.0, within 79.8, majority 39.2."""
    _, runs, _ = imported
    board = json.loads((report([runs], tmp_path / "b") / "analysis.json").read_text())
    got = {
        (r["shuffle"]): r for r in board["rows"] if r["backbone"] == "qwen3-8b" and r["subset"] == "unseen"
    }
    assert got["original"]["macro_f1"] == pytest.approx(78.4, abs=0.05)
    assert got["across_category"]["macro_f1"] == pytest.approx(50.0, abs=0.05)
    assert got["within_category"]["macro_f1"] == pytest.approx(79.8, abs=0.05)
    assert got["original"]["majority_f1"] == pytest.approx(39.2, abs=0.05)
    assert board["headline"][0]["backbone"] == "qwen3-8b"


@pytest.fixture(scope="module")
def qwen_runs(tmp_path_factory) -> Path:
    """The paper's Qwen3-0.6B/1.7B runs (both encoders) with their coherence and probe results."""
    src = tmp_path_factory.mktemp("qwen")
    for name in ("all_unseen_f1_scores.csv", "coherence_backbone.csv", "visual_coherence_results.csv"):
        shutil.copy(PUBLISHED / name, src / name)
    out = tmp_path_factory.mktemp("qwen-runs")
    import_published(src, out)
    return out


def test_the_papers_mixed_models_on_its_published_runs(qwen_runs: Path) -> None:
    """§9: encoder effect t = 0.91 (not significant); coherence t = 3.34 (significant), probe t = 0.05."""
    from harness.report.analysis import coherence_analysis, encoder_analysis
    from harness.report.load import load_runs

    data = load_runs([qwen_runs])
    enc = encoder_analysis(data)
    assert enc["status"] == "ok" and enc["n_obs"] == 2 * 2 * 3 * 53
    term = {t["name"]: t for t in enc["terms"]}["enc"]
    assert term["stat"] == pytest.approx(0.91, abs=0.2) and term["p"] > 0.05
    assert enc["paper"]["t"] == 0.91
    coh = coherence_analysis(data)["mixed_model"]
    assert coh["status"] == "ok" and coh["n_obs"] == 2 * 3 * 53
    terms = {t["name"]: t for t in coh["terms"]}
    assert terms["coherence"]["estimate"] > 0 and terms["coherence"]["p"] < 0.01
    assert 2.5 < terms["coherence"]["stat"] < 4.5  # paper: t = 3.34
    assert terms["probe_f1"]["p"] > 0.05  # paper: t = 0.05
    assert set(coh["random_effects"]) == {
        "category",
        "category:probe_f1",
        "category:coherence",
        "seed",
        "backbone",
    }
