"""Pydantic schema of a leaderboard submission: run records (summary + per-category metrics) plus a manifest.

A submission is one JSON file in ``leaderboard/submissions/``; ``taxobench leaderboard validate FILE``
checks it and ``taxobench leaderboard build`` renders the accepted ones into ``leaderboard/README.md``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.runs.store import RunRecord

SCHEMA_VERSION: Final = 1
Subset = Literal["leaf", "seen", "unseen"]

# Limits (docs/leaderboard.md, "Limits and escaping").  A whole submission file is capped before parsing
# (leaderboard.board.validate_submission); the counts bound what one file can make the build compute.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_RUNS = 1_000
MAX_METRICS_PER_RUN = 5_000
MAX_METRIC_ROWS = 100_000
MAX_COUNT = 10**9  # depth, n_yes, n_no
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_SYSTEMATIC_LEVEL = 1_000  # hypernyms ablated (the paper's largest systematic level is 53)

# Characters that never belong in a name: control characters (Cc: newlines, tabs, NUL, ESC...), format
# characters (Cf: bidi overrides, zero-width spaces, BOM; ZWJ/ZWNJ kept for emoji and scripts that need
# them), surrogates, private-use code points, line and paragraph separators.
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
_ALLOWED_FORMAT = {"\u200c", "\u200d"}


def _bad_char(text: str, allow: str = "") -> str | None:
    if text.isprintable():  # fast path: no Cc/Cf/Cs/Co/Cn/Zl/Zp (nor Zs other than the space)
        return None
    for ch in text:
        if ch in allow or ch in _ALLOWED_FORMAT:
            continue
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"U+{ord(ch):04X}"
    return None


def _printable(text: str) -> str:
    """One line of printable text without leading or trailing whitespace."""
    bad = _bad_char(text)
    if bad:
        raise ValueError(f"contains a control or invisible character ({bad}); use printable text on one line")
    if text != text.strip():
        raise ValueError("has leading or trailing whitespace")
    return text


def _prose(text: str) -> str:
    """Free text: printable, line breaks (newline, carriage return) and tabs allowed."""
    bad = _bad_char(text, allow="\n\r\t")
    if bad:
        raise ValueError(f"contains a control or invisible character ({bad})")
    return text


# identifiers as they occur in real runs: hf-vision:facebook/dinov2-large, hf-causal:Qwen/Qwen3-0.6B,
# women's clothing, part of car, flip-flop, piñata
Ident = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
ShortText = Annotated[str, Field(max_length=500), AfterValidator(_printable)]  # may be empty
Prose = Annotated[str, Field(max_length=2_000), AfterValidator(_prose)]
F1 = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricRow(_Strict):
    """One category of one run (the rows of metrics.parquet); F1 values in 0-1."""

    subset: Subset
    category: Ident
    depth: Count | None = None
    n_yes: Count | None = None
    n_no: Count | None = None
    f1: F1
    majority_f1: F1 | None = None


class SubmittedRun(RunRecord):
    """One finished run as a submission carries it: the run record (:class:`harness.runs.store.RunRecord`,
    the fields of summary.json) with the limits of untrusted input, and its metrics."""

    model_config = ConfigDict(extra="forbid")

    run_id: Ident
    task: Ident
    encoder: Ident
    backbone: Ident
    init: Literal["pretrained", "random"] = "pretrained"
    ablation_kind: Literal["random", "systematic"]
    ablation_level: float = Field(ge=0, le=MAX_SYSTEMATIC_LEVEL, allow_inf_nan=False)
    shuffle: Ident
    seed: int = Field(ge=INT64_MIN, le=INT64_MAX)
    # "published" is reserved for the shipped reference data (leaderboard/published/, imported by
    # harness.report.published.import_published); the field is accepted only to say so clearly.
    source: str = "taxobench"
    reference: ShortText | None = None
    metrics: list[MetricRow] = Field(min_length=1, max_length=MAX_METRICS_PER_RUN)

    @field_validator("source")
    @classmethod
    def _not_published(cls, v: str) -> str:
        if v == "published":
            raise ValueError(
                "source 'published' is reserved for the shipped reference data (leaderboard/published/); "
                "submitted runs have source 'taxobench'"
            )
        if v != "taxobench":
            raise ValueError("source must be 'taxobench'")
        return v

    @model_validator(mode="after")
    def _check(self) -> SubmittedRun:
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
    name: Name
    contact: ShortText | None = None
    url: ShortText | None = None


class Manifest(BaseModel):
    """What produced the runs.  Required: the taxobench version; more keys (config, fingerprints) welcome."""

    model_config = ConfigDict(extra="allow")

    taxobench_version: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
    git_commit: Annotated[str, Field(max_length=2_000), AfterValidator(_printable)] | None = None
    created: ShortText | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    configs: list[dict[str, Any]] = Field(default_factory=list)


class Submission(_Strict):
    """A leaderboard submission: who, what produced it, and the run records."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="short slug, used as the row source")
    title: Title
    submitter: Submitter
    description: Prose = ""
    manifest: Manifest
    runs: list[SubmittedRun] = Field(min_length=1, max_length=MAX_RUNS)

    @field_validator("runs")
    @classmethod
    def _unique_ids(cls, runs: list[SubmittedRun]) -> list[SubmittedRun]:
        ids = [r.run_id for r in runs]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate run_id(s): {', '.join(dup)}")
        n_rows = sum(len(r.metrics) for r in runs)
        if n_rows > MAX_METRIC_ROWS:
            raise ValueError(
                f"{n_rows} metric rows in all, more than {MAX_METRIC_ROWS}: split the runs into several "
                "submissions (one per model, say)"
            )
        return runs


def slug(text: str) -> str:
    """A valid submission id from free text."""
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (s or "submission")[:64]
