"""Hostile submissions: injection into the rendered board, out-of-range numbers, oversized files, and the
dtypes of the merged data (a probe F1 that turned into a categorical in the coherence model)."""

from __future__ import annotations

import copy
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import UserError
from harness.report.analysis import coherence_table
from harness.report.html import render_html
from harness.report.load import from_frames, load_runs, summary_row
from harness.report.markdown import headline_md, rows_md, stats_md
from harness.report.table import aggregate, headline
from harness.runs.store import RunDir
from leaderboard.board import (
    _merge,
    build_leaderboard,
    make_submission,
    submissions_data,
    validate_submission,
)
from leaderboard.schema import MAX_FILE_BYTES, MAX_METRIC_ROWS, MAX_METRICS_PER_RUN, MAX_RUNS, Submission
from tests.helpers.leaderboard import good_submission, submission_runs, write_file
from tests.helpers.runs import make_run

# --- helpers -------------------------------------------------------------------------------------------


def _shown(md: str) -> str:
    """What GitHub shows for a line of Markdown text: backslash escapes and entities undone."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md))


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line.replace("\\\\", "")))


def _tables(text: str) -> list[list[str]]:
    """Blocks of consecutive lines that start with "|"."""
    blocks: list[list[str]] = []
    prev = False
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and not prev:
            blocks.append([])
        if is_row:
            blocks[-1].append(line)
        prev = is_row
    return blocks


def _section(text: str, name: str) -> list[str]:
    body = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line.strip()]


def _build(tmp_path: Path, data: dict, name: str = "lb") -> str:
    root = tmp_path / name
    (root / "submissions").mkdir(parents=True)
    write_file(root / "submissions", data, f"{data['id']}.json")
    return build_leaderboard(root, include_published=False).read_text()


def _assert_inert(text: str, clean: str) -> None:
    """No raw HTML, links, images, code or emphasis from user text; the page keeps the structure of
    ``clean`` (the same submission with harmless strings): the same headings, tables with a constant
    column count, one line per submission."""
    lower = text.lower()
    assert "<script" not in lower and "<img" not in lower
    assert "<!--" not in text  # an unclosed comment would hide the rest of the page on GitHub
    assert "](" not in text and "![" not in text  # no link or image syntax survives
    assert "```" not in text
    for mark in ("**", "_", "~~"):  # emphasis / strikethrough only where the page itself uses it
        assert len(re.findall(rf"(?<!\\){re.escape(mark)}", text)) == len(
            re.findall(rf"(?<!\\){re.escape(mark)}", clean)
        ), mark
    headings = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert headings == [line for line in clean.splitlines() if line.lstrip().startswith("#")]
    for block in _tables(text):
        counts = {_unescaped_pipes(line) for line in block}
        assert len(counts) == 1, block  # every row of a table has its header's column count
    assert len(_section(text, "Submissions")) == 1
    backticks = len(re.findall(r"(?<!\\)`", text))
    assert backticks == len(re.findall(r"(?<!\\)`", clean))  # only the page's own code spans


def _hostile(payload: str, description: str | None = None) -> dict:
    """good_submission() with ``payload`` in every free-text field a submitter controls (shuffle in run 2)."""
    data = good_submission()
    data["title"] = payload
    data["submitter"]["name"] = payload
    data["description"] = payload if description is None else description
    for run in data["runs"]:
        run.update(encoder=payload, backbone=payload, task=payload)
        run["metrics"][0]["category"] = payload
    data["runs"][1]["shuffle"] = payload
    return data


# single-line injections: accepted by the schema (printable text), neutralised by the renderer
INJECTIONS = {
    "script": "<script>alert(1)</script>",
    "img onerror": "<img src=x onerror=alert(document.cookie)>",
    "heading": "# Injected heading",
    "link": "[click me](http://evil.example/)",
    "tracking image": "![](http://tracker.example/pixel.png)",
    "unclosed comment": "<!-- the rest of the page is hidden",
    "table pipe": "a | b | c",
    "backticks": "``` `code` ```",
    "emphasis": "**bold** _it_ ~~gone~~",
}


@pytest.fixture(scope="module")
def clean_board(tmp_path_factory) -> str:
    return _build(tmp_path_factory.mktemp("clean"), _hostile("Plain name"))


# --- 1. escaping in leaderboard/README.md --------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(INJECTIONS))
def test_injection_escaped_in_readme(tmp_path, clean_board, case):
    payload = INJECTIONS[case]
    data = _hostile(payload)
    assert validate_submission(write_file(tmp_path, data)) == []
    text = _build(tmp_path, data)
    _assert_inert(text, clean_board)
    # ... and the submitter's text is still shown as written (escaped, not dropped)
    (line,) = _section(text, "Submissions")
    assert _shown(line) == f"- `alice-smollm`: {payload} — {payload} (2 runs). {payload}"
    rows = [_shown(row) for block in _tables(text) for row in block]
    model = f"{payload} + {payload} [alice-smollm]"  # encoder + backbone [submission id]
    assert any(f"| {model} | {payload} | random 100%, original |" in r for r in rows)
    assert any(f"random 100%, {payload} |" in r for r in rows)


def test_description_with_newlines_stays_on_its_line(tmp_path, clean_board):
    desc = "Intro.\n# Injected heading\r\n| a | b |\n---\n- item\n<!-- hidden"
    text = _build(tmp_path, _hostile("Plain name", description=desc))
    _assert_inert(text, clean_board)
    (line,) = _section(text, "Submissions")
    assert _shown(line).endswith(". Intro. # Injected heading | a | b | --- - item <!-- hidden")


def test_renderer_without_schema_keeps_one_line_per_row():
    """`taxobench report` reads run directories that no schema checked: the Markdown tables themselves
    must neutralise newlines, pipes, headings and HTML in encoder / backbone / task / shuffle."""
    payload = "x\n# Injected heading\n| a | b |\n<!-- <script>alert(1)</script>"
    run = {
        "run_id": "r",
        "task": payload,
        "encoder": payload,
        "backbone": "lm",
        "init": "pretrained",
        "ablation_kind": "random",
        "ablation_level": 100,
        "shuffle": "original",
        "seed": 1,
    }
    metrics = pd.DataFrame(
        [
            {"subset": "leaf", "category": payload, "depth": 0, "f1": 0.9, "majority_f1": 0.4},
            {"subset": "unseen", "category": "bird", "depth": 1, "f1": 0.6, "majority_f1": 0.4},
        ]
    ).assign(run_key="k")
    data = from_frames(pd.DataFrame([summary_row(run, "k")]), metrics, [], pd.DataFrame(columns=["f1"]))
    rows = aggregate(data.metrics)
    text = headline_md(headline(rows)) + "\n\n" + rows_md(rows)
    assert not [line for line in text.splitlines() if line.lstrip().startswith("#") and "Injected" in line]
    assert "<script" not in text and "<!--" not in text
    tables = _tables(text)
    assert len(tables) == 3  # headline, leaf, unseen: each header, rule and one row
    for block in tables:
        assert len(block) == 3 and len({_unescaped_pipes(line) for line in block}) == 1, block
    flat = payload.replace("\n", " ")
    assert f"| {flat} + lm | {flat} |" in _shown(tables[0][2])


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("case", sorted(INJECTIONS))
def test_html_statistics_escaped_once(tmp_path, case):
    """report_html renders the statistics Markdown: user strings come out html.escape'd exactly once
    (no raw tags, no visible Markdown backslashes or double-escaped entities)."""
    payload = INJECTIONS[case]
    test = {"model": payload, "a": "original", "b": payload, "mean_a": 70.0, "mean_b": 50.0}
    test |= {"diff": 20.0, "t": 5.0, "df": 4.0, "p": 0.0001}
    st = {
        "encoder_effect": {"status": "skipped", "reason": payload},
        "coherence": {
            "mixed_model": {"status": "skipped", "reason": "none"},
            "correlations": {
                "status": "ok",
                "rows": [
                    {"model": payload, "pearson_r": 0.5, "pearson_p": 0.01, "spearman_rho": 0.4, "n": 9}
                ],
            },
        },
        "welch_tests": {"status": "ok", "tests": [test]},
    }
    rows = pd.DataFrame(columns=["model", "subset", "leaf_precondition"])
    page = render_html(rows, rows, st, {}, tmp_path, {"n_runs": 1, "sources": [payload]})
    parser = _Text()
    parser.feed(page)
    assert parser.tags.count("script") == 1 and "img" not in parser.tags and "a" not in parser.tags
    assert "<!--" not in page and "<b>bold" not in page
    shown = "".join(parser.text)
    assert shown.count(payload) >= 5  # sources, encoder reason, correlation, Welch model and comparison
    assert f"original vs {payload}" in shown
    md = stats_md(st)
    assert "<script" not in md and "<img" not in md and "<!--" not in md
    assert "](" not in md and "![" not in md and "```" not in md


# --- 2. schema limits ----------------------------------------------------------------------------------


def _mutate(fn) -> dict:
    data = good_submission()
    fn(data)
    return data


def _run(d: dict, **kw) -> None:
    d["runs"][0].update(kw)


def _metric(d: dict, **kw) -> None:
    d["runs"][0]["metrics"][0].update(kw)


BAD = {
    "systematic level 1e308": (
        lambda d: _run(d, ablation_kind="systematic", ablation_level=1e308),
        "runs.0.ablation_level",
    ),
    "systematic level inf": (
        lambda d: _run(d, ablation_kind="systematic", ablation_level=float("inf")),
        "runs.0.ablation_level",
    ),
    "random level nan": (lambda d: _run(d, ablation_level=float("nan")), "runs.0.ablation_level"),
    "systematic level 1001": (
        lambda d: _run(d, ablation_kind="systematic", ablation_level=1001),
        "runs.0.ablation_level",
    ),
    "seed 10**40": (lambda d: _run(d, seed=10**40), "runs.0.seed"),
    "seed -10**40": (lambda d: _run(d, seed=-(10**40)), "runs.0.seed"),
    "depth 10**10": (lambda d: _metric(d, depth=10**10), "runs.0.metrics.0.depth"),
    "n_yes 10**12": (lambda d: _metric(d, n_yes=10**12), "runs.0.metrics.0.n_yes"),
    "f1 nan": (lambda d: _metric(d, f1=float("nan")), "runs.0.metrics.0.f1"),
    "majority inf": (lambda d: _metric(d, majority_f1=float("inf")), "runs.0.metrics.0.majority_f1"),
    "long title": (lambda d: d.update(title="t" * 201), "title"),
    "long name": (lambda d: d["submitter"].update(name="n" * 101), "submitter.name"),
    "long description": (lambda d: d.update(description="d" * 2001), "description"),
    "long encoder": (lambda d: _run(d, encoder="e" * 201), "runs.0.encoder"),
    "long category": (lambda d: _metric(d, category="c" * 201), "runs.0.metrics.0.category"),
    "long run_id": (lambda d: _run(d, run_id="r" * 201), "runs.0.run_id"),
    "newline in title": (lambda d: d.update(title="ok\n# Injected heading"), "title"),
    "escape code in name": (lambda d: d["submitter"].update(name="\x1b[31mred"), "submitter.name"),
    "newline in encoder": (lambda d: _run(d, encoder="enc\n# Injected"), "runs.0.encoder"),
    "carriage return in shuffle": (lambda d: _run(d, shuffle="original\r| x |"), "runs.0.shuffle"),
    "tab in task": (lambda d: _run(d, task="things\tx"), "runs.0.task"),
    "NUL in category": (lambda d: _metric(d, category="crow\x00"), "runs.0.metrics.0.category"),
    "bidi override in backbone": (lambda d: _run(d, backbone="lm\u202ex"), "runs.0.backbone"),
    "bell in description": (lambda d: d.update(description="hello\x07"), "description"),
    "padded encoder": (lambda d: _run(d, encoder=" dinov2 "), "runs.0.encoder"),
    "source published": (lambda d: _run(d, source="published"), "runs.0.source"),
    "source other": (lambda d: _run(d, source="someone-else"), "runs.0.source"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_rejects(tmp_path, case):
    fn, field = BAD[case]
    errors = validate_submission(write_file(tmp_path, _mutate(fn)))
    assert errors, case
    assert any(e.startswith(field) for e in errors), errors


def test_published_source_is_reserved(tmp_path):
    errors = validate_submission(write_file(tmp_path, _mutate(lambda d: _run(d, source="published"))))
    assert len(errors) == 1 and errors[0].startswith("runs.0.source:") and "reserved" in errors[0]


def test_make_submission_refuses_publishedsubmission_runs(tmp_path):
    runs = submission_runs(tmp_path / "runs")
    summary_path = next(runs.rglob("summary.json"))
    summary = json.loads(summary_path.read_text())
    summary_path.write_text(json.dumps({**summary, "source": "published"}))
    with pytest.raises(UserError, match="published"):
        make_submission([runs], "x", "X", "Bob")


def test_realistic_values_accepted(tmp_path):
    """The limits must not reject what real runs look like."""
    data = good_submission()
    data["title"] = "DINOv2 + Qwen3 (pretrained & random init) — 3 seeds ✓ 🐦"
    data["submitter"]["name"] = "Zoë O'Brien-Šimić"
    data["description"] = "Line one.\nLine two, with `code` and a [link](https://example.org).\n\tIndented."
    run = data["runs"][0]
    run.update(
        encoder="hf-vision:facebook/dinov2-large",
        backbone="hf-causal:Qwen/Qwen3-0.6B",
        ablation_kind="systematic",
        ablation_level=53,
        shuffle="within_category",
        seed=2**63 - 1,
        reference="Xu et al. 2026, published",
    )
    run["metrics"] += [
        {"subset": "leaf", "category": c, "depth": 0, "f1": 1.0, "majority_f1": 0.0}
        for c in ("flip-flop", "piñata", "cup of coffee", "baton (1)")
    ]
    run["metrics"] += [
        {"subset": "unseen", "category": c, "depth": 10**9, "f1": 0.0}
        for c in ("women's clothing", "part of car", "piece of women’s clothing")
    ]
    data["runs"][1].update(seed=-(2**63), ablation_level=0)
    assert validate_submission(write_file(tmp_path, data)) == []


def test_run_count_capped():
    data = good_submission()
    run = data["runs"][0]
    data["runs"] = [{**copy.deepcopy(run), "run_id": f"r{i}"} for i in range(MAX_RUNS + 1)]
    with pytest.raises(ValueError, match="runs"):
        Submission.model_validate(data)
    data["runs"] = data["runs"][:MAX_RUNS]
    assert len(Submission.model_validate(data).runs) == MAX_RUNS


def _rows(n: int) -> list[dict]:
    return [{"subset": "leaf", "category": f"c{i}", "f1": 0.5} for i in range(n)]


def test_metric_rows_capped():
    data = good_submission()
    data["runs"][0]["metrics"] = _rows(MAX_METRICS_PER_RUN + 1)
    with pytest.raises(ValueError, match="runs.0.metrics"):
        Submission.model_validate(data)
    # in all: just over MAX_METRIC_ROWS across runs that are each within the per-run cap
    n_runs = MAX_METRIC_ROWS // MAX_METRICS_PER_RUN + 1
    data["runs"] = [
        {
            **copy.deepcopy(good_submission()["runs"][0]),
            "run_id": f"r{i}",
            "metrics": _rows(MAX_METRICS_PER_RUN),
        }
        for i in range(n_runs)
    ]
    with pytest.raises(ValueError, match="metric rows in all"):
        Submission.model_validate(data)


# --- size cap ------------------------------------------------------------------------------------------


def _padded(path: Path, size: int) -> Path:
    """A valid submission padded with whitespace (valid JSON) to exactly ``size`` bytes, written in
    1 MiB chunks."""
    head = json.dumps(good_submission()).encode()
    with path.open("wb") as fh:
        fh.write(head)
        left = size - len(head)
        chunk = b" " * (1 << 20)
        while left > 0:
            fh.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    assert path.stat().st_size == size
    return path


def test_size_cap(tmp_path):
    assert validate_submission(_padded(tmp_path / "at-limit.json", MAX_FILE_BYTES)) == []
    errors = validate_submission(_padded(tmp_path / "over.json", MAX_FILE_BYTES + 1))
    assert len(errors) == 1 and "too large" in errors[0] and f"{MAX_FILE_BYTES:,}" in errors[0], errors


def test_build_refuses_oversized_submission(tmp_path):
    root = tmp_path / "lb"
    (root / "submissions").mkdir(parents=True)
    _padded(root / "submissions" / "big.json", 6 * 1024 * 1024)
    with pytest.raises(UserError, match=r"big\.json[\s\S]*too large"):
        build_leaderboard(root, include_published=False)


def test_deeply_nested_json_is_an_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    errors = validate_submission(path)
    assert len(errors) == 1 and errors[0].startswith("not valid JSON"), errors


# --- 3. numeric dtypes through the merge ---------------------------------------------------------------


def _published_like(root: Path):
    """Run directories with coherence, plus a text-only probe directory (as import_published writes)."""
    cats = {"animal": 0.8, "tool": 0.7, "vehicle": 0.6}
    for seed in (1, 2):
        make_run(
            root,
            backbone="qwen3-0.6b",
            seed=seed,
            f1={"leaf": {"a": 0.9}, "unseen": cats},
            coherence={c: 0.1 + i / 10 for i, c in enumerate(cats)},
        )
    probe = root / "probe-x"
    probe.mkdir()
    (probe / "summary.json").write_text(json.dumps({"kind": "probe", "backbone": "qwen3-0.6b"}))
    pd.DataFrame({"category": list(cats), "f1": [0.5, 0.6, 0.7], "variant": "paper"}).to_parquet(
        probe / "probe.parquet", index=False
    )
    RunDir(probe).mark_done()
    return load_runs([root])


NUMERIC = {
    "runs": ["ablation_level", "seed"],
    "metrics": ["f1", "majority_f1", "depth", "ablation_level", "seed"],
    "coherence": ["avg_cosine"],
    "probes": ["f1"],
}


@pytest.mark.parametrize("order", ["submissions first", "published first"])
def test_merged_numeric_columns_stay_numeric(tmp_path, order):
    subs = submissions_data([Submission.model_validate(good_submission())])
    other = _published_like(tmp_path / "runs")
    assert not other.probes.empty and not other.coherence.empty
    data = _merge(subs, other) if order == "submissions first" else _merge(other, subs)
    for frame, cols in NUMERIC.items():
        df = getattr(data, frame)
        for col in cols:
            assert pd.api.types.is_numeric_dtype(df[col]), (frame, col, df[col].dtype)
    for frame, col in [("metrics", "f1"), ("metrics", "majority_f1"), ("coherence", "avg_cosine")]:
        assert getattr(data, frame)[col].dtype == "float64", (frame, col)
    assert data.probes["f1"].dtype == "float64"
    coh = coherence_table(data)  # what the coherence mixed model is fitted on
    assert len(coh) == 6 and coh["probe_f1"].notna().all()
    assert coh["probe_f1"].dtype == "float64" and coh["coherence"].dtype == "float64"
    assert coh["f1"].dtype == "float64"


def test_submission_data_alone_is_numeric():
    data = submissions_data([Submission.model_validate(good_submission())])
    assert data.probes["f1"].dtype == "float64" and data.coherence["avg_cosine"].dtype == "float64"
    assert data.metrics["f1"].dtype == "float64"
