"""Experiment configs (pydantic v2): one cell, and a grid that expands into cells.  TOML on disk.

A grid file is a cell file plus a ``[sweep]`` table whose keys are (dotted) field names and whose values
are lists; the grid is their cartesian product, e.g. ``seed = [42, 218]`` or ``"ablation.level" = [10, 30]``.
Several ``[[sweep]]`` tables make a grid that is the union of their products (duplicates dropped).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import UserError
from harness.plugin.options import format_validation_error
from harness.protocol.presets import NAMES as ABLATION_PRESETS
from harness.protocol.presets import table4
from harness.protocol.profiles import DEFAULT_PROFILE, Profile, Rules, apply_profile

TRAINING_PRESETS: dict[str, dict[str, float]] = {
    # PROTOCOL.md §5 (paper's Table 1) and §8 (the released code's Prismatic align-stage defaults).
    "paper-table1": {"lr": 2e-5, "weight_decay": 0.1},
    "paper-code": {"lr": 1e-3, "weight_decay": 0.0},
}


CELL_ID_VERSION = 2  # 2: task-relative image references, rule profiles
# Training options added since version 2: left out of the cell id at these defaults (old cells keep their ids)
ADDED_AT_DEFAULT = {"projector_init": "default", "format_tokens": 0, "format_lr": None, "format_steps": 0}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ablation(Strict):
    """Which hypernym evidence training keeps (PROTOCOL.md §3).

    random: ``level`` is the percent of (leaf, hypernym) mappings removed per hypernym (0-100).
    systematic: ``level`` is the number of whole hypernyms removed (sampled from the data seed), unless
    ``hypernyms`` names them or ``preset`` names a shipped list (``paper-table4``: the paper's Table 4 list
    of ``level`` = 10, 20, 30 or 40 hypernyms).  ``rules.ablation_unit`` says what a removal takes away.
    At random 100 % and systematic with every hypernym removed, training holds leaf questions only.
    """

    kind: Literal["random", "systematic"] = "random"
    level: float = Field(default=100.0, ge=0)
    hypernyms: tuple[str, ...] | None = None
    preset: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Ablation:
        if self.kind == "random" and self.level > 100:
            raise ValueError("random ablation level is a percent between 0 and 100")
        if self.kind == "random" and (self.hypernyms or self.preset):
            raise ValueError("hypernyms/preset apply to systematic ablation only")
        if self.preset is not None and self.preset not in ABLATION_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; available: {', '.join(ABLATION_PRESETS)}")
        if self.preset == "paper-table4" and self.level not in table4():
            levels = ", ".join(map(str, table4()))
            raise ValueError(f"preset 'paper-table4' lists levels {levels}, not {self.level:g}")
        return self


class Training(Strict):
    """Projector training hyper-parameters; defaults are PROTOCOL.md §5 (paper's Table 1)."""

    preset: Literal["paper-table1", "paper-code"] | None = None
    lr: float = Field(default=2e-5, gt=0)
    weight_decay: float = Field(default=0.1, ge=0)
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    epochs: float = Field(default=5, gt=0)
    batch_size: int = Field(default=16, ge=1)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seeded_projector_init: bool = True  # the paper's code used a fixed init; False reproduces that
    val_every: int = Field(default=0, ge=0)  # optimiser steps between validations; 0 = once per epoch
    device: str = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    # Not in the paper's code (docs/demo.md, "Why the leaves stall"): "label-embeddings" fits the projector's
    # output layer so each training image's tokens start at its training label's text embedding
    # (harness.training.projector_init); format_tokens learned tokens after the image tokens carry the answer
    # format, at format_lr (default: lr), alone for the first format_steps steps while the projector waits.
    # "label-embeddings-centred": the same fit into a projector whose hidden units are centred before its
    # output layer (harness.training.projector.Projector; docs/demo.md, "d6").
    projector_init: Literal["default", "label-embeddings", "label-embeddings-centred"] = "default"
    format_tokens: int = Field(default=0, ge=0)
    format_lr: float | None = Field(default=None, gt=0)
    format_steps: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset"):
            preset = TRAINING_PRESETS.get(data["preset"])
            if preset is not None:
                data = {**preset, **data}
        return data

    @model_validator(mode="after")
    def _format_options(self) -> Training:
        if (self.format_steps or self.format_lr is not None) and not self.format_tokens:
            raise ValueError("format_steps and format_lr need format_tokens > 0")
        return self


class Data(Strict):
    """How the protocol turns a task into questions."""

    split: tuple[float, float, float] = (0.70, 0.05, 0.25)
    negatives_per_positive: int = Field(default=1, ge=1)
    max_images_per_leaf: int | None = Field(default=None, ge=1)
    # a fixed sample of leaves, for small machines (see protocol)
    max_leaves: int | None = Field(default=None, ge=2)
    image_tokens: str = "all"  # "all" or "pool:k" (k tokens after adaptive average pooling)
    # "standardize": every feature dimension centred and scaled by its mean and SD over the cell's
    # training images before the projector (not in the paper's code); "none": the encoder's features as is
    feature_norm: Literal["none", "standardize"] = "none"

    @field_validator("split")
    @classmethod
    def _sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if abs(sum(v) - 1.0) > 1e-6 or min(v) < 0:
            raise ValueError("split fractions (train, val, test) must be non-negative and sum to 1")
        return v

    @field_validator("image_tokens")
    @classmethod
    def _tokens(cls, v: str) -> str:
        if v != "all" and not (v.startswith("pool:") and v[5:].isdigit() and int(v[5:]) > 0):
            raise ValueError('image_tokens must be "all" or "pool:<k>" with k > 0')
        return v


class ProbeSettings(Strict):
    """The text-only probes ``taxobench probe`` runs (PROTOCOL.md §6, §9).

    ``variants``: ``paper`` (the paper's probe: 4 phrasings, the most likely one asked in the chat
    template, pooled macro F1), ``yes_no`` (one question per hypernym pair and category-level F1) and
    ``cloze`` (hypernyms ranked as continuations).  ``scorer``: the backbone whose mean token
    log-probability picks the paper probe's phrasing; ``"self"`` is the probed backbone (the paper used
    OLMo-3-7B: ``hf-causal:allenai/Olmo-3-1025-7B``).
    """

    variants: tuple[Literal["paper", "yes_no", "cloze"], ...] = ("paper", "yes_no", "cloze")
    scorer: str = "self"
    scorer_options: dict[str, Any] = Field(default_factory=dict)


class ExperimentConfig(Strict):
    """One cell of the protocol: everything that determines one training run.

    ``preset`` names the rule profile (:mod:`harness.protocol.profiles`); ``rules`` and the training
    defaults are
    resolved from it where the config does not set them.
    """

    name: str = "experiment"
    preset: Profile = DEFAULT_PROFILE
    rules: Rules = Field(default_factory=Rules)
    task: str = "things"
    task_options: dict[str, Any] = Field(default_factory=dict)
    encoder: str = "efficientnet-lite0"
    encoder_options: dict[str, Any] = Field(default_factory=dict)
    backbone: str = "smollm2-135m"
    backbone_options: dict[str, Any] = Field(default_factory=dict)
    init: Literal["pretrained", "random"] = "pretrained"
    ablation: Ablation = Field(default_factory=Ablation)
    shuffle: str = "original"
    shuffle_options: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42
    training: Training = Field(default_factory=Training)
    data: Data = Field(default_factory=Data)
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    # experiment trackers fed from the training log (harness.training.tracking); not part of the cell id
    tracking: tuple[Literal["tensorboard", "mlflow", "wandb"], ...] = ()
    output_dir: Path = Path("runs")
    cache_dir: Path | None = None  # feature cache; default: the user cache dir

    @model_validator(mode="before")
    @classmethod
    def _resolve_profile(cls, data: Any) -> Any:
        return apply_profile(data) if isinstance(data, dict) else data

    @property
    def data_seed(self) -> int:
        """The seed of the data choices: ``rules.data_seed``, or the run seed when it is ``"run"``."""
        seed = self.rules.data_seed
        if seed == "run":
            return self.seed
        assert seed is not None, "rules.data_seed is filled in from the profile"
        return int(seed)

    def cell_id(self) -> str:
        """Stable hash of everything that affects the result: not the output or cache location, nor where
        the task's data lives (``task_options.root``; the task fingerprint in the manifest covers the data).

        ``CELL_ID_VERSION`` changes when what a given config computes changes.
        """
        payload = without_locations(self.model_dump(mode="json", exclude={"name", "probe", "tracking"}))
        for key, default in ADDED_AT_DEFAULT.items():
            if payload["training"][key] == default:
                del payload["training"][key]
        payload["version"] = CELL_ID_VERSION
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def without_locations(config: dict[str, Any]) -> dict[str, Any]:
    """A config (as a dict) less where it writes and caches (``output_dir``, ``cache_dir``) and where its
    task's data lives (``task_options.root``): what differs between checkouts of the same experiment."""
    out = {k: v for k, v in config.items() if k not in ("output_dir", "cache_dir")}
    if isinstance(out.get("task_options"), dict):
        out["task_options"] = {k: v for k, v in out["task_options"].items() if k != "root"}
    return out


def _one_empty_sweep() -> list[dict[str, list[Any]]]:
    return [{}]


class GridConfig(Strict):
    """A base cell and the lists to sweep over."""

    base: ExperimentConfig
    sweeps: list[dict[str, list[Any]]] = Field(default_factory=_one_empty_sweep)

    def cells(self) -> list[ExperimentConfig]:
        base = self.base.model_dump(mode="json")
        out: dict[str, ExperimentConfig] = {}
        for sweep in self.sweeps:
            keys = sorted(sweep)
            for values in itertools.product(*(sweep[k] for k in keys)):
                data = json.loads(json.dumps(base))
                for key, value in zip(keys, values, strict=True):
                    _set_dotted(data, key, value)
                cell = _validate(ExperimentConfig, data, source="sweep")
                out.setdefault(cell.cell_id(), cell)
        return list(out.values())


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, f"invalid config {source}:")) from None


def load_toml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None


def parse_assignment(text: str, what: str = "--set") -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as TOML (``1e-3``, ``true``, ``[1, 2]``, ``{a = 1}``), else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"{what} takes KEY=VALUE, got {text!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip(), raw


def load_grid(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> GridConfig:
    """Read a cell or grid TOML file; a file without ``[sweep]`` is a grid of one cell.

    ``overrides`` (``KEY=VALUE``, dotted keys, e.g. ``training.lr=1e-3``) set fields of every cell: they
    replace the file's value and any sweep over that field; the config schema types and checks them.
    """
    data = load_toml(path)
    sweeps = data.pop("sweep", {})
    sweeps = sweeps if isinstance(sweeps, list) else [sweeps]
    for text in overrides:
        key, value = parse_assignment(text)
        if key.split(".")[0] not in ExperimentConfig.model_fields:
            fields = ", ".join(ExperimentConfig.model_fields)
            raise UserError(f"--set {key}: not a config field; fields: {fields}")
        _set_dotted(data, key, value)
        sweeps = [{k: v for k, v in s.items() if not (k == key or k.startswith(f"{key}."))} for s in sweeps]
    known = set(ExperimentConfig.model_fields)
    for sweep in sweeps:
        if not isinstance(sweep, dict) or not all(isinstance(v, list) for v in sweep.values()):
            raise UserError(f"invalid config {path}:\n  sweep: every value must be a list")
        for key in sweep:
            if key.split(".")[0] not in known:
                raise UserError(f"invalid config {path}:\n  sweep.{key}: not a config field")
            if not sweep[key]:
                raise UserError(
                    f"invalid config {path}:\n  sweep.{key}: an empty list (the grid would have no cells)"
                )
    base = _validate(ExperimentConfig, data, source=str(path))
    grid = GridConfig(base=base, sweeps=sweeps)
    grid.cells()  # validate every cell now, so errors surface before any work
    return grid
