"""Import the paper's published per-run CSVs (Xu et al. 2026) as taxobench run directories.

Input: a folder of ``*_f1_scores.csv`` files (one row per run, one column per category, F1 in 0-1), the
``*_guess_*`` majority-baseline files, ``visual_coherence_results.csv`` and ``coherence_backbone.csv``
(format: leaderboard/published/NOTICE.md and docs/leaderboard.md).  Output: one run directory per run
name (summary.json, metrics.parquet, coherence.parquet, manifest.json, config.toml, DONE) and one
``probe-<hash>`` directory per backbone with a published text-only probe.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from harness.common.files import sha256_file, write_json, write_text
from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.plugin.registry import default_registry
from harness.runs import store
from harness.runs.manifest import package_versions
from harness.runs.store import RunDir, RunRecord

REFERENCE = "Xu et al. 2026, published"
SOURCE_URL = "github.com/sally-xu-42/cross-modal-taxonomic-gen (results/, MIT)"

ENCODERS = {"dinov2": "dinov2-large", "siglip": "siglip-so400m"}
BACKBONES = {
    "500m": "qwen3-0.6b",
    "1b": "qwen3-1.7b",
    "1b-llama": "llama-3.2-1b",
    "1b-llama-instruct": "llama-3.2-1b-instruct",
    "1b-llama-chat": "llama-3.2-1b-instruct",  # the released files spell the instruct model "-chat"
    "8b": "qwen3-8b",
}
PROBE_MODELS = {"Qwen3-0.6B": "qwen3-0.6b", "Qwen3-1.7B": "qwen3-1.7b"}
SHUFFLES = {
    "": "original",
    "-shuffled": "across_category",
    "-local-shuffled": "within_category",
    "-cat-shuffled": "hypernym_swap",  # §4 hypernym-level swap
    "-cat-sampled": "hypernym_swap_control",  # the same sampled leaves, unswapped
}
COHERENCE_SHUFFLE = {
    "original": "original",
    "shuffled": "across_category",
    "local_shuffled": "within_category",
}
# Question surface forms in the CSVs -> hypernym names of the taxonomy (leaf_hypernyms.tsv).
HYPERNYM_ALIASES = {
    "arts and crafts item": "arts and crafts supply",
    "car part": "part of car",
    "hardware item": "hardware",
    "home decor item": "home decor",
    "item of clothing": "clothing",
    "musical": "musical instrument",
    "office supply item": "office supply",
    "piece of jewelry": "jewelry",
    "piece of women's clothing": "women's clothing",
    "protective clothing item": "protective clothing",
    "school supply item": "school supply",
    "source of light": "lighting",
}
# Leaf display names in the CSVs -> THINGS concept ids, where the id is not just spaces -> underscores.
LEAF_ALIASES = {
    "hippo": "hippopotamus",
    "rhino": "rhinoceros",
    "tv": "television",
    "flip-flop": "flip_flop",
    "cup of coffee": "coffee",
    "cup of tea": "tea",
    "egg yolk": "yolk",
}

_LM = "|".join(sorted(map(re.escape, BACKBONES), key=len, reverse=True))
_SHUF = "|".join(sorted((re.escape(s) for s in SHUFFLES if s), key=len, reverse=True))
RUN_NAME = re.compile(
    rf"^align-(?P<enc>{'|'.join(ENCODERS)})\+(?P<lm>{_LM})-things"
    rf"(?:\+hyp-abl(?P<level>\d+)(?P<cat>cat)?)?(?P<shuffle>{_SHUF})?-(?P<seed>\d+)(?P<random>-random)?$"
)
GRAMMAR = (
    "align-{dinov2|siglip}+{500m|1b|1b-llama|1b-llama-instruct|1b-llama-chat|8b}-things"
    "[+hyp-abl{NN}[cat]][-local-shuffled|-shuffled|-cat-shuffled|-cat-sampled]-{seed}[-random]"
)
N_HYPERNYMS = 53


@dataclass(frozen=True)
class RunName:
    """The experimental condition encoded in one published run name."""

    name: str
    encoder: str
    backbone: str
    init: Literal["pretrained", "random"]
    ablation_kind: Literal["random", "systematic"]
    ablation_level: float
    shuffle: str
    seed: int

    def guess_key(self, subset: str) -> str:
        """Name of the row in the ``*_guess_*`` files holding this run's majority baseline for ``subset``."""
        if self.shuffle in ("hypernym_swap", "hypernym_swap_control"):
            tail = "cat_shuffled" if self.shuffle == "hypernym_swap" else "cat_sampled"
            return f"test_{tail}" if subset == "leaf" else f"test_hyp_{tail}"
        suffix = {"original": "", "across_category": "_shuffled", "within_category": "_local_shuffled"}
        sfx = suffix[self.shuffle]
        if subset == "leaf":
            return f"test{sfx}"
        full = self.ablation_kind == "random" and self.ablation_level == 100
        if full:
            return f"test_hyp{sfx}"
        unit = "pct" if self.ablation_kind == "random" else "cat"
        part = "ablated" if subset == "unseen" else "trained"
        return f"test_hyp_{part}_{int(self.ablation_level)}{unit}{sfx}"


def parse_run_name(name: str) -> RunName:
    """Parse a published run name (grammar in docs/leaderboard.md); UserError for anything else."""
    m = RUN_NAME.match(name.strip())
    if not m:
        raise UserError(f"unknown published run name {name!r}: expected {GRAMMAR}")
    kind: Literal["random", "systematic"]
    if m["level"] is None:  # no +hyp-abl: leaf questions only, i.e. 100 % ablation
        kind, level = "random", 100.0
    elif m["cat"]:
        kind, level = "systematic", float(int(m["level"]))
        if not 0 < level <= N_HYPERNYMS:
            raise UserError(f"run name {name!r}: systematic ablation of {int(level)} hypernyms (1-53)")
    else:
        kind, level = "random", float(int(m["level"]))
        if not 0 < level <= 100:
            raise UserError(f"run name {name!r}: random ablation level {int(level)} % is not in 1-100")
    return RunName(
        name=name.strip(),
        encoder=ENCODERS[m["enc"]],
        backbone=BACKBONES[m["lm"]],
        init="random" if m["random"] else "pretrained",
        ablation_kind=kind,
        ablation_level=level,
        shuffle=SHUFFLES[m["shuffle"] or ""],
        seed=int(m["seed"]),
    )


def file_role(path: Path) -> tuple[str, str] | None:
    """(``"runs"`` | ``"guess"``, subset) for an F1 file, or None for other files.

    Subset from the name: ``*_leaf_*`` -> leaf, ``*_seen_*`` -> seen, ``*_unseen_*`` -> unseen;
    guess files are ``*_leaf_guess_*`` (leaf) and ``*_hyp_guess_*`` (hypernym test sets).
    """
    if not path.name.endswith("_f1_scores.csv"):
        return None
    tokens = path.name[: -len("_f1_scores.csv")].split("_")
    kind = "guess" if "guess" in tokens else "runs"
    for subset in ("leaf", "unseen", "seen", "hyp"):
        if subset in tokens and (kind == "guess" or subset != "hyp"):
            return kind, subset
    raise UserError(f"{path.name}: cannot tell the subset (expected *_leaf_*, *_seen_* or *_unseen_*)")


def published_taxonomy() -> TaskData:
    """The THINGS taxonomy the published runs use, from the registered ``things`` task under the
    paper-code profile (the paper's depths: 41 / 9 / 3)."""
    registry = default_registry()
    options = {"profile": "paper-code"} if registry.accepts("tasks", "things", "profile") else {}
    task = registry.create("tasks", "things", **options)
    describe = getattr(task, "taxonomy_data", None)
    if describe is None:
        raise UserError("the installed 'things' task cannot give its taxonomy without images")
    return describe()


def canonical_category(name: str, subset: str, leaves: set[str]) -> str:
    """Map a CSV column name to the taxonomy's spelling (hypernyms) or THINGS concept id (leaves)."""
    if subset != "leaf":
        return HYPERNYM_ALIASES.get(name, name)
    if name in LEAF_ALIASES:
        return LEAF_ALIASES[name]
    under = name.replace(" ", "_")
    return under if under in leaves else name


def _read_scores(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    if df.columns[0] != "run_name":
        raise UserError(f"{path.name}: first column must be run_name, found {df.columns[0]!r}")
    if df["run_name"].duplicated().any():
        dup = df.loc[df["run_name"].duplicated(), "run_name"].iloc[0]
        raise UserError(f"{path.name}: run {dup!r} appears twice")
    return df.set_index("run_name")


def import_published(src: Path, out: Path) -> int:
    """Convert the published CSVs in ``src`` into run directories under ``out``; returns how many runs.

    Every run name must follow the grammar (UserError otherwise, naming the file and the row).
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise UserError(f"published results folder not found: {src}")
    files = sorted(src.glob("*_f1_scores.csv"))
    if not files:
        raise UserError(f"{src}: no *_f1_scores.csv files (the paper's results/ folder)")
    taxonomy = published_taxonomy()
    guesses, scores, parsed = read_published(files, set(taxonomy.leaves))
    coherence = _published_coherence(src)
    provenance = {"hashes": {p.name: sha256_file(p) for p in files}, "versions": package_versions()}
    out.mkdir(parents=True, exist_ok=True)
    for name in sorted(scores):
        run = parsed[name]
        metrics = run_metrics(run, scores[name], guesses, taxonomy.depths)
        files_used = sorted({f for _, f in scores[name].values()})
        _write_run(out / name, run, metrics, coherence.get(run.shuffle), files_used, provenance)
    _write_probes(src, out)
    return len(scores)


def read_published(files: list[Path], leaves: set[str]):
    """(guess rows by subset and name, per run the (row, file) of each subset, parsed run names)."""
    guesses: dict[str, dict[str, pd.Series]] = {"leaf": {}, "hyp": {}}
    scores: dict[str, dict[str, tuple[pd.Series, str]]] = {}  # run -> subset -> (row, file)
    parsed: dict[str, RunName] = {}
    for path in files:
        role = file_role(path)
        assert role is not None
        kind, subset = role
        table = _read_scores(path)
        table.columns = [
            canonical_category(c, "leaf" if subset == "leaf" else "hyp", leaves) for c in table.columns
        ]
        for name, row in table.iterrows():
            if kind == "guess":
                guesses[subset][str(name)] = row
                continue
            try:
                parsed.setdefault(str(name), parse_run_name(str(name)))
            except UserError as exc:
                raise UserError(f"{path.name}: {exc}") from None
            per_run = scores.setdefault(str(name), {})
            if subset in per_run:
                raise UserError(
                    f"run {name!r} has {subset} scores in both {per_run[subset][1]} and {path.name}"
                )
            per_run[subset] = (row, path.name)
    return guesses, scores, parsed


def run_metrics(
    run: RunName,
    subsets: dict[str, tuple[pd.Series, str]],
    guesses: dict[str, dict[str, pd.Series]],
    depths: dict[str, int],
) -> pd.DataFrame:
    """One run's metrics.parquet rows from its published per-category F1 and majority baselines."""
    frames = []
    for subset, (row, _file) in sorted(subsets.items()):
        guess = guesses["leaf" if subset == "leaf" else "hyp"].get(run.guess_key(subset))
        f1 = pd.to_numeric(row, errors="coerce").dropna()
        frame = pd.DataFrame({"subset": subset, "category": f1.index.astype(str), "f1": f1.to_numpy(float)})
        frame["depth"] = 0 if subset == "leaf" else frame["category"].map(depths).astype("Int64")
        frame["n_yes"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        frame["n_no"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        majority = frame["category"].map(pd.to_numeric(guess, errors="coerce")) if guess is not None else None
        frame["majority_f1"] = majority.astype(float) if majority is not None else float("nan")
        frames.append(frame)
    columns = ["subset", "category", "depth", "n_yes", "n_no", "f1", "majority_f1"]
    return pd.concat(frames, ignore_index=True)[columns]


def _published_coherence(src: Path) -> dict[str, pd.DataFrame]:
    path = src / "visual_coherence_results.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path)
    out = {}
    for shuffle_type, g in df.groupby("shuffle_type"):
        shuffle = COHERENCE_SHUFFLE.get(str(shuffle_type))
        if shuffle is None:
            continue
        out[shuffle] = pd.DataFrame(
            {
                "category": g["category"].map(lambda c: HYPERNYM_ALIASES.get(c, c)).to_numpy(),
                "avg_cosine": g["avg_cosine"].astype(float).to_numpy(),
                "sd": float("nan"),
                "n_images": g["n_images"].astype("Int64").to_numpy(),
            }
        )
    return out


def _prepare_dir(path: Path) -> None:
    summary = path / store.SUMMARY
    if path.exists():
        if summary.is_file() and '"published"' not in summary.read_text():
            raise UserError(f"{path} holds a taxobench run, not a published one; choose another --out")
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _write_run(
    path: Path,
    run: RunName,
    metrics: pd.DataFrame,
    coherence: pd.DataFrame | None,
    files: list[str],
    provenance: dict,
) -> None:
    _prepare_dir(path)
    record = RunRecord(
        run_id=run.name,
        task="things",
        encoder=run.encoder,
        backbone=run.backbone,
        init=run.init,
        ablation_kind=run.ablation_kind,
        ablation_level=run.ablation_level,
        shuffle=run.shuffle,
        seed=run.seed,
        source="published",
        reference=REFERENCE,
        published_name=run.name,
    )
    run_dir = RunDir(path)
    run_dir.write_parquet(store.METRICS, metrics)
    if coherence is not None:
        run_dir.write_parquet(store.COHERENCE, coherence)
    run_dir.write_record(record)
    write_json(
        path / store.MANIFEST,
        {
            "source": "published",
            "reference": REFERENCE,
            "origin": SOURCE_URL,
            "files": {f: provenance["hashes"][f] for f in files},
            "converted_by": "taxobench import-published",
            "versions": provenance["versions"],
        },
    )
    write_text(path / store.CONFIG, _config_toml(run))
    run_dir.mark_done()


def _config_toml(run: RunName) -> str:
    return (
        "# Reconstructed from the published run name; the run itself was trained by the paper's code.\n"
        f'name = "{run.name}"\ntask = "things"\nencoder = "{run.encoder}"\nbackbone = "{run.backbone}"\n'
        f'init = "{run.init}"\nshuffle = "{run.shuffle}"\nseed = {run.seed}\n\n'
        f'[ablation]\nkind = "{run.ablation_kind}"\nlevel = {run.ablation_level}\n\n'
        '[training]\npreset = "paper-code"\n'
    )


def _write_probes(src: Path, out: Path) -> None:
    path = src / "coherence_backbone.csv"
    if not path.is_file():
        return
    df = pd.read_csv(path).drop_duplicates(["model", "hypernym"])
    for model, g in df.groupby("model"):
        backbone = PROBE_MODELS.get(str(model), str(model).lower())
        digest = hashlib.sha256(f"published:{backbone}".encode()).hexdigest()[:12]
        pdir = out / store.probe_dir_name(digest)
        _prepare_dir(pdir)
        probe = pd.DataFrame(
            {
                "variant": "paper",
                "category": g["hypernym"].map(lambda c: HYPERNYM_ALIASES.get(c, c)).to_numpy(),
                "f1": g["backbone_f1"].astype(float).to_numpy(),
                "accuracy": g["backbone_acc"].astype(float).to_numpy(),
            }
        )
        RunDir(pdir).write_parquet(store.PROBE, probe)
        RunDir(pdir).write_record(
            store.ProbeRecord(backbone=backbone, source="published", reference=REFERENCE)
        )
        RunDir(pdir).mark_done()
