"""The protocol data layer (PROTOCOL.md §2-4, §9): task data -> a ``QuestionSet``.  Pure data, no torch.

Entry point::

    build_question_set(data: TaskData, cfg: ExperimentConfig, shuffle: Shuffle,
                       template: str = DEFAULT_TEMPLATE) -> QuestionSet

Uses ``cfg.data_seed`` (every random choice below; the run seed only when ``rules.data_seed = "run"``),
``cfg.rules`` (split, ablation unit, scored categories), ``cfg.data`` (split fractions,
negatives_per_positive, max_images_per_leaf, max_leaves), ``cfg.ablation`` and ``cfg.shuffle``/
``cfg.shuffle_options`` (recorded only; ``shuffle`` is the built plugin).  Steps:

1. Split each leaf's sorted images by the split rule (:mod:`harness.protocol.splits`), with the data seed and
  the
   leaf only, so test images are the same for every ablation and shuffle.
2. ``mapping = shuffle.apply(data, derive_rng(seed, "shuffle", shuffle.name))``; an image of leaf ``k``
   is labelled ``mapping[k]`` and its hypernyms are those of ``mapping[k]``.  A shuffle may return
   ``(mapping, info)``: the JSON-ready ``info`` is stored in ``meta["shuffle"]["info"]``.
3. Per image, with ``derive_rng(seed, "negatives", image)`` (``image`` is the task-relative reference):
   a leaf pair (the label leaf + negatives drawn uniformly from the other leaves) and, for each hypernym of
   the label leaf (sorted), a hypernym pair (positive + negatives drawn uniformly from the hypernyms that
   do not apply).  A negative is never a true statement: candidates whose surface text equals that of the
   label leaf or of one of its hypernyms are excluded (THINGS has leaves named like hypernyms, e.g. leaf
   "bird" under hypernym "bird", so a crow image never gets the leaf negative "Is there a bird ...?").
   Negatives of one pair are distinct; within one image hypernym negatives are drawn without replacement
   until the candidates run out.  ``negatives_per_positive`` above the number of candidates gives all
   candidates.  Each pair also gets the positive label's contrast questions (``TaskData.contrasts``: the
   same label stated falsely of this image, e.g. a relation with its objects swapped) as further
   negatives.  Question text comes from ``TaskData.question`` (the label's own template and the image's
   slots, if the task has them).
4. Ablation (:mod:`harness.protocol.ablation`): train drops pairs whose positive (label_leaf, hypernym)
   mapping was
   removed; in val/test such hypernym pairs are subset "unseen", other hypernym pairs "seen".
5. ``scored`` marks the rows whose category enters its subset's macro F1 (``rules.scored``): ``all``, or
   ``with-yes``: the (split, subset, category) has a "Yes" row, and under systematic ablation an unseen
   category is a listed hypernym and a seen one is not.

Pair ids are numbered before the ablation filter, so the test rows (pair ids included) do not depend on
the ablation.  Rows are ordered by split (train, val, test), image, pair, answer (Yes first).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from harness.common.files import write_atomic, write_json
from harness.common.seeding import derive_rng
from harness.config import ExperimentConfig
from harness.errors import UserError
from harness.plugin.contracts import Shuffle, TaskData
from harness.protocol.ablation import removed_mappings
from harness.protocol.splits import SPLITS, split_images

DEFAULT_TEMPLATE = "Is there {article} {category} in this image?"
COLUMNS = (
    "split",
    "image",
    "image_leaf",
    "label_leaf",
    "kind",
    "subset",
    "category",
    "answer",
    "pair",
    "question",
    "depth",
    "scored",
)
SUBSETS = ("leaf", "seen", "unseen")
QUESTIONS_FILE = "questions.parquet"
META_FILE = "questionset.json"


@dataclass
class QuestionSet:
    """The questions of one cell, the removed mappings, the shuffle mapping and a JSON-ready meta."""

    questions: pd.DataFrame
    removed: list[tuple[str, str]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path) -> Path:
        """Write ``questions.parquet`` and ``questionset.json`` (atomically; byte-identical on re-run)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        frame = self.questions.reset_index(drop=True)
        write_atomic(directory / QUESTIONS_FILE, lambda tmp: frame.to_parquet(tmp, index=False))
        payload = {
            "removed": [list(m) for m in self.removed],
            "mapping": dict(sorted(self.mapping.items())),
            "meta": self.meta,
        }
        write_json(directory / META_FILE, payload)
        return directory

    @classmethod
    def load(cls, directory: Path) -> QuestionSet:
        directory = Path(directory)
        if not (directory / QUESTIONS_FILE).is_file() or not (directory / META_FILE).is_file():
            raise UserError(f"no QuestionSet in {directory} (expected {QUESTIONS_FILE} and {META_FILE})")
        payload = json.loads((directory / META_FILE).read_text())
        questions = pd.read_parquet(directory / QUESTIONS_FILE)
        if "scored" not in questions.columns:  # written before rules.scored existed: every row scored
            questions["scored"] = True
        return cls(
            questions=questions,
            removed=[(leaf, h) for leaf, h in payload["removed"]],
            mapping=payload["mapping"],
            meta=payload["meta"],
        )

    def counts(self) -> pd.DataFrame:
        """Table-2-style counts per (split, subset): pairs, questions, yes, no, images, categories.

        ``categories`` counts the distinct categories of the positive questions.
        """
        q = self.questions
        rows = []
        for split in SPLITS:
            for subset in SUBSETS:
                part = q[(q["split"] == split) & (q["subset"] == subset)]
                if part.empty:
                    continue
                yes = int(part["answer"].sum())
                rows.append(
                    {
                        "split": split,
                        "subset": subset,
                        "pairs": int(part["pair"].nunique()),
                        "questions": len(part),
                        "yes": yes,
                        "no": len(part) - yes,
                        "images": int(part["image"].nunique()),
                        "categories": int(part.loc[part["answer"], "category"].nunique()),
                    }
                )
        return pd.DataFrame(
            rows, columns=["split", "subset", "pairs", "questions", "yes", "no", "images", "categories"]
        )


def check_data(data: TaskData) -> None:
    """Every derived label of a leaf needs a depth."""
    for leaf in data.leaves:
        missing = [h for h in data.relations.get(leaf, ()) if h not in data.depths]
        if missing:
            raise UserError(f"task data: leaf {leaf!r} has label(s) {missing} without a depth")


def check_mapping(mapping: dict[str, str], leaves: list[str], name: str) -> None:
    """A shuffle must return a bijection on the task's leaves."""
    if set(mapping) != set(leaves) or set(mapping.values()) != set(leaves):
        raise ValueError(f"shuffle {name!r} did not return a bijection on the task's leaves")


def _sample_except(rng: random.Random, items: list[str], excluded: list[int], k: int) -> list[str]:
    """k distinct items whose indices are not in ``excluded`` (sorted), uniformly without listing them."""
    n = len(items) - len(excluded)
    out = []
    for i in rng.sample(range(n), min(k, n)):
        for j in excluded:  # shift past every excluded index at or below i
            if j <= i:
                i += 1
        out.append(items[i])
    return out


class _Pool:
    """Draws categories uniformly, without replacement within one image until the candidates run out."""

    def __init__(self, rng: random.Random, candidates: list[str]) -> None:
        self.rng, self.candidates = rng, candidates
        self.left: list[str] = []

    def draw(self, k: int) -> list[str]:
        out: list[str] = []
        while len(out) < min(k, len(self.candidates)):
            if not self.left:
                self.left = self.rng.sample(self.candidates, len(self.candidates))
            c = self.left.pop()
            if c not in out:
                out.append(c)
        return out


def _fixed_points(mapping: dict[str, str]) -> int:
    return sum(1 for k, v in mapping.items() if k == v)


def sample_leaves(data: TaskData, n: int | None) -> TaskData:
    """Keep ``n`` leaves, sampled with a fixed seed (not the run seed) so every cell of a grid shares them.

    Hypernyms left without a leaf are dropped; depths keep their values from the full taxonomy.
    """
    if n is None or n >= len(data.images):
        return data
    keep = sorted(derive_rng(0, "max_leaves", n).sample(data.leaves, n))
    relations = {leaf: data.relations.get(leaf, ()) for leaf in keep}
    used = {h for hs in relations.values() for h in hs}
    return replace(
        data,
        images={leaf: data.images[leaf] for leaf in keep},
        relations=relations,
        depths={h: d for h, d in data.depths.items() if h in used},
    )


def apply_shuffle(shuffle: Shuffle, data: TaskData, seed: int) -> tuple[dict[str, str], Any]:
    """The shuffle's mapping (checked to be a bijection on the leaves) and its information, if any."""
    result = shuffle.apply(data, derive_rng(seed, "shuffle", shuffle.name))
    mapping, info = result if isinstance(result, tuple) else (result, None)
    mapping = dict(mapping)
    check_mapping(mapping, data.leaves, shuffle.name)
    return mapping, info


def scored_rows(questions: pd.DataFrame, listed: list[str] | None = None) -> pd.Series:
    """Rows whose (split, subset, category) has a "Yes" row; with ``listed`` (a systematic ablation's
    hypernyms) also: unseen rows of listed categories and seen rows of the others only."""
    has_yes = questions.groupby(["split", "subset", "category"])["answer"].transform("any").astype(bool)
    if listed is None:
        return has_yes
    in_list = questions["category"].isin(listed)
    subset = questions["subset"]
    return has_yes & ~((subset == "unseen") & ~in_list) & ~((subset == "seen") & in_list)


class NegativeSampler:
    """Per image, its pairs: the label leaf with negatives from the other leaves, and each hypernym of the
    label with negatives from the hypernyms that do not apply (never a true statement; see the module
    docstring), drawn with ``derive_rng(seed, "negatives", image)``."""

    def __init__(self, data: TaskData, seed: int, k: int) -> None:
        self.data, self.seed, self.k = data, seed, k
        self.leaves, self.hypernyms = data.leaves, data.derived
        self.leaf_index = {leaf: i for i, leaf in enumerate(self.leaves)}
        self.leaves_named: dict[str, list[int]] = {}
        for i, leaf in enumerate(self.leaves):
            self.leaves_named.setdefault(data.surface(leaf), []).append(i)

    def pairs(self, ref: str, label: str) -> list[tuple[str, str, list[str]]]:
        """(kind, positive, negatives) of each pair of ``ref``, an image labelled ``label``."""
        data, rng = self.data, derive_rng(self.seed, "negatives", ref)
        applies = set(data.relations.get(label, ()))
        true_names = {data.surface(label), *(data.surface(h) for h in applies)}
        named = (i for n in true_names for i in self.leaves_named.get(n, ()))
        excluded = sorted({self.leaf_index[label], *named})
        out = [("leaf", label, _sample_except(rng, self.leaves, excluded, self.k))]
        candidates = [h for h in self.hypernyms if h not in applies and data.surface(h) not in true_names]
        pool = _Pool(rng, candidates)
        out += [("hypernym", h, pool.draw(self.k)) for h in sorted(applies)]
        return out


def question_rows(
    data: TaskData,
    split_of: dict[str, tuple[str, str]],
    mapping: dict[str, str],
    removed: set[tuple[str, str]],
    sampler: NegativeSampler,
    template: str,
) -> pd.DataFrame:
    """Every image's questions (steps 3-4 of the module docstring), typed, ``scored`` all True."""
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    order = {s: i for i, s in enumerate(SPLITS)}
    pair = 0
    for ref in sorted(split_of, key=lambda r: (order[split_of[r][0]], r)):
        split, image_leaf = split_of[ref]
        label = mapping[image_leaf]
        for kind, positive, negatives in sampler.pairs(ref, label):
            subset = "leaf" if kind == "leaf" else "unseen" if (label, positive) in removed else "seen"
            if not (split == "train" and subset == "unseen"):
                asked = [(positive, data.question(template, ref, positive), True)]
                asked += [(n, data.question(template, ref, n), False) for n in negatives]
                asked += [(positive, text, False) for text in data.contrast_questions(ref, positive)]
                for category, text, answer in asked:
                    depth = 0 if kind == "leaf" else data.depths[category]
                    values = (
                        split,
                        ref,
                        image_leaf,
                        label,
                        kind,
                        subset,
                        category,
                        answer,
                        pair,
                        text,
                        depth,
                    )
                    for col, value in zip(COLUMNS[:11], values, strict=True):
                        cols[col].append(value)
            pair += 1
    cols["scored"] = [True] * len(cols["split"])
    questions = pd.DataFrame(cols, columns=list(COLUMNS))
    dtypes = {c: "str" for c in COLUMNS}
    return questions.astype({**dtypes, "answer": bool, "pair": "int64", "depth": "int64", "scored": bool})


def build_question_set(
    data: TaskData, cfg: ExperimentConfig, shuffle: Shuffle, template: str = DEFAULT_TEMPLATE
) -> QuestionSet:
    """The cell's QuestionSet (see the module docstring for the rules)."""
    check_data(data)
    data = sample_leaves(data, cfg.data.max_leaves)
    seed = cfg.data_seed
    rules = cfg.rules
    assert rules.split is not None and rules.ablation_unit is not None, "rules are filled in from the profile"
    split_of = split_images(data.images, cfg.data.split, seed, cfg.data.max_images_per_leaf, rule=rules.split)
    mapping, shuffle_info = apply_shuffle(shuffle, data, seed)
    removed, ablation_info = removed_mappings(data, cfg.ablation, seed, unit=rules.ablation_unit)
    sampler = NegativeSampler(data, seed, cfg.data.negatives_per_positive)
    questions = question_rows(data, split_of, mapping, set(removed), sampler, template)
    if cfg.rules.scored == "with-yes":
        listed = ablation_info.get("hypernyms") if cfg.ablation.kind == "systematic" else None
        questions["scored"] = scored_rows(questions, listed)
    qs = QuestionSet(questions=questions, removed=removed, mapping=dict(sorted(mapping.items())))
    qs.meta = {
        "seed": seed,
        "rules": cfg.rules.model_dump(mode="json"),
        "task": cfg.task,
        "template": template,
        "data": cfg.data.model_dump(
            mode="json", include={"split", "negatives_per_positive", "max_images_per_leaf"}
        ),
        "ablation": ablation_info,
        "shuffle": {
            "ref": cfg.shuffle,
            "name": shuffle.name,
            "options": cfg.shuffle_options,
            "info": shuffle_info,
        },
        "fixed_points": _fixed_points(mapping),
        "n_leaves": len(data.leaves),
        "n_hypernyms": len(data.derived),
        "counts": qs.counts().to_dict(orient="records"),
    }
    return qs
