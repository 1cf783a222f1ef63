"""Pydantic schema of a leaderboard submission: run records (summary + per-category metrics) plus a manifest.

A submission is one JSON file in ``leaderboard/submissions/``; ``taxobench leaderboard validate FILE``
checks it and ``taxobench leaderboard build`` renders the accepted ones into ``leaderboard/README.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
Subset = Literal["leaf", "seen", "unseen"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricRow(_Strict):
    """One category of one run (the rows of metrics.parquet); F1 values in 0-1."""

    subset: Subset
    category: str = Field(min_length=1)
    depth: int | None = Field(None, ge=0)
    n_yes: int | None = Field(None, ge=0)
    n_no: int | None = Field(None, ge=0)
    f1: float = Field(ge=0, le=1)
    majority_f1: float | None = Field(None, ge=0, le=1)


class RunRecord(_Strict):
    """One finished run: the fields of summary.json and its metrics."""

    run_id: str = Field(min_length=1)
    task: str = Field(min_length=1)
    encoder: str = Field(min_length=1)
    backbone: str = Field(min_length=1)
    init: Literal["pretrained", "random"] = "pretrained"
    ablation_kind: Literal["random", "systematic"]
    ablation_level: float = Field(ge=0)
    shuffle: str = Field(min_length=1)
    seed: int
    source: Literal["taxobench", "published"] = "taxobench"
    reference: str | None = None
    metrics: list[MetricRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RunRecord:
        if self.ablation_kind == "random" and self.ablation_level > 100:
            raise ValueError("random ablation_level is a percent (0-100)")
        seen: set[tuple[str, str]] = set()
        for m in self.metrics:
            key = (m.subset, m.category)
            if key in seen:
                raise ValueError(f"metrics list {m.subset}/{m.category} twice")
            seen.add(key)
        if not any(m.subset == "leaf" for m in self.metrics):
            raise ValueError("no leaf metrics: the leaf F1 precondition (PROTOCOL §7.1) cannot be checked")
        return self


class Submitter(_Strict):
    name: str = Field(min_length=1)
    contact: str | None = None
    url: str | None = None


class Manifest(BaseModel):
    """What produced the runs.  Required: the taxobench version; more keys (config, fingerprints) welcome."""

    model_config = ConfigDict(extra="allow")

    taxobench_version: str = Field(min_length=1)
    git_commit: str | None = None
    created: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    configs: list[dict[str, Any]] = Field(default_factory=list)


class Submission(_Strict):
    """A leaderboard submission: who, what produced it, and the run records."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="short slug, used as the row source")
    title: str = Field(min_length=1)
    submitter: Submitter
    description: str = ""
    manifest: Manifest
    runs: list[RunRecord] = Field(min_length=1)

    @field_validator("runs")
    @classmethod
    def _unique_ids(cls, runs: list[RunRecord]) -> list[RunRecord]:
        ids = [r.run_id for r in runs]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate run_id(s): {', '.join(dup)}")
        return runs


def slug(text: str) -> str:
    """A valid submission id from free text."""
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (s or "submission")[:64]


def validate_submission(path: Path) -> list[str]:
    """Errors of a submission file (empty = valid); see leaderboard.board.validate_submission."""
    from leaderboard.board import validate_submission as _validate

    return _validate(path)


def build_leaderboard(root: Path) -> Path:
    """Regenerate ``root/README.md``; see leaderboard.board.build_leaderboard."""
    from leaderboard.board import build_leaderboard as _build

    return _build(root)
