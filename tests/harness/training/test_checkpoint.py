"""Epoch checkpoints: an interrupted training resumes to the very projector an uninterrupted one gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.config import Training
from harness.runs import store
from harness.runs.store import RunDir
from harness.training import checkpoint
from harness.training.loop import train_projector
from tests.helpers.models import tiny_training_setup


class Interrupt(Exception):
    """Raised from the log callback to stop training right after a checkpoint."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is faster, and steady on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_training_setup(tmp_path_factory.mktemp("m"))


def fit(setup, checkpoint_dir=None, stop_after=None, records=None, **training):
    """Train (warmup, weight decay, validation every epoch); ``stop_after``: interrupt after that epoch."""
    backbone, features, index, train, val = setup
    options = {"lr": 1e-2, "weight_decay": 0.1, "warmup_ratio": 0.2, "epochs": 3, "batch_size": 6}
    cfg = Training(**{**options, "device": "cpu", **training})
    records = [] if records is None else records

    def log(record):
        records.append(record)
        if record["kind"] == "checkpoint" and record["epoch"] == stop_after:
            raise Interrupt

    return train_projector(
        backbone,
        features,
        index,
        train,
        val,
        cfg,
        seed=5,
        log=log,
        progress=False,
        checkpoint_dir=checkpoint_dir,
    )


def assert_same(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


FORMAT = {"format_tokens": 2, "format_steps": 10, "format_lr": 0.05, "projector_init": "label-embeddings"}
CENTRED = {"projector_init": "label-embeddings-centred"}


@pytest.mark.parametrize(
    ("epochs", "stop_after", "options"), [(3, 1, {}), (2.5, 2, {}), (3, 1, FORMAT), (2, 1, CENTRED)]
)
def test_resumed_training_equals_uninterrupted(setup, tmp_path: Path, epochs, stop_after, options):
    """Also with format tokens whose head start (10 steps) outlasts the first epoch (8 steps)."""
    if options.get("projector_init"):
        backbone, features, index, train, val = setup
        setup = (backbone, features, index, train.assign(label_text=train["label_leaf"]), val)
    full_log = []
    full = fit(setup, records=full_log, epochs=epochs, **options)
    with pytest.raises(Interrupt):
        fit(setup, tmp_path, stop_after=stop_after, epochs=epochs, **options)
    assert (tmp_path / checkpoint.STATE).is_file()
    resumed_log = []
    resumed = fit(setup, tmp_path, records=resumed_log, epochs=epochs, **options)
    assert_same(full, resumed)
    kinds = [r["kind"] for r in resumed_log]
    resume = resumed_log[kinds.index("resume")]
    assert resume["epoch"] == stop_after
    steps = [r["step"] for r in resumed_log[kinds.index("resume") + 1 :] if r["kind"] == "train"]
    assert steps and min(steps) > resume["step"]  # training went on from there, not from step 1
    # The replayed log plus the new records cover the same steps as the uninterrupted log.
    train_steps = [r["step"] for r in resumed_log if r["kind"] == "train"]
    assert train_steps == [r["step"] for r in full_log if r["kind"] == "train"]
    val = [r for r in resumed_log if r["kind"] == "val"]
    assert [r["val_loss"] for r in val] == [r["val_loss"] for r in full_log if r["kind"] == "val"]


def test_interruption_is_a_real_one(setup, tmp_path: Path):
    """The interrupted projector differs from the final one, so the equality above is not vacuous."""
    with pytest.raises(Interrupt):
        fit(setup, tmp_path, stop_after=1)
    full = fit(setup)
    state = torch.load(tmp_path / checkpoint.STATE, weights_only=True)
    assert state["epoch"] == 1 and 0 < state["step"]
    assert not torch.equal(state["states"]["projector"]["fc1.weight"], full.fc1.weight)


def test_finished_checkpoint_skips_training(setup, tmp_path: Path):
    first = fit(setup, tmp_path)
    records = []
    again = fit(setup, tmp_path, records=records)
    assert_same(first, again)
    resume = [r for r in records if r["kind"] == "resume"]
    assert resume and resume[0]["epoch"] == 3
    assert records[-1]["kind"] == "resume"  # nothing trained after it


def test_checkpoint_of_another_run_is_ignored(setup, tmp_path: Path):
    with pytest.raises(Interrupt):
        fit(setup, tmp_path, stop_after=1)
    records = []
    with pytest.warns(UserWarning, match="another training run"):
        other = fit(setup, tmp_path, records=records, lr=2e-2, epochs=1)
    assert not any(r["kind"] == "resume" for r in records)
    assert_same(other, fit(setup, lr=2e-2, epochs=1))


def test_damaged_checkpoint_is_ignored(setup, tmp_path: Path):
    (tmp_path / checkpoint.STATE).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        fit(setup, tmp_path, epochs=1)
    assert torch.load(tmp_path / checkpoint.STATE, weights_only=True)["epoch"] == 1


def test_reset_keeps_the_checkpoint_of_an_unfinished_cell(tmp_path: Path):
    run = RunDir(tmp_path / "cell")
    (run.path / store.CHECKPOINT).mkdir(parents=True)
    (run.path / store.CHECKPOINT / checkpoint.STATE).write_text("state")
    (run.path / "train_log.jsonl").write_text("half\n")
    run.reset_keeping_checkpoint()
    assert sorted(p.name for p in run.path.iterdir()) == [store.CHECKPOINT]
    assert (run.path / store.CHECKPOINT / checkpoint.STATE).read_text() == "state"
    # A process killed while the folder was set aside: the next reset puts it back.
    aside = tmp_path / f".cell.{store.CHECKPOINT}"
    (run.path / store.CHECKPOINT).rename(aside)
    run.reset_keeping_checkpoint()
    assert (run.path / store.CHECKPOINT / checkpoint.STATE).read_text() == "state" and not aside.exists()
    run.discard_checkpoint()
    assert not (run.path / store.CHECKPOINT).exists()
