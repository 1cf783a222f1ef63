"""Configs: defaults from the protocol, presets, grid expansion, and errors that name the field."""

from __future__ import annotations

import pytest

from harness.config import ExperimentConfig, GridConfig, load_grid
from harness.errors import UserError
from tests.helpers.cli import dedent, run_cli


def test_paper_text_defaults_follow_protocol_section_5():
    t = ExperimentConfig(preset="paper-text").training
    assert (t.lr, t.weight_decay, t.warmup_ratio, t.epochs, t.batch_size, t.max_grad_norm) == (
        2e-5,
        0.1,
        0.03,
        5,
        16,
        1.0,
    )
    assert t.seeded_projector_init


def test_paper_code_is_the_default_and_takes_the_released_code_optimiser():
    cfg = ExperimentConfig()
    t = cfg.training
    assert cfg.preset == "paper-code" and t.preset == "paper-code"
    assert (t.lr, t.weight_decay, t.warmup_ratio, t.batch_size, t.max_grad_norm) == (1e-3, 0.0, 0.03, 16, 1.0)
    assert not t.seeded_projector_init  # the released code fixed the projector's initialisation
    assert cfg.rules.model_dump() == {
        "split": "floor",
        "data_seed": 0,
        "ablation_unit": "leaves",
        "scored": "with-yes",
        "prompt_prefix": "<image>\n",
        "image_position": "after-first-token",
        "answer_tokens": "plain",
        "answer_eos": True,
    }
    assert cfg.data_seed == 0 and ExperimentConfig(seed=7).data_seed == 0
    assert ExperimentConfig(seed=7, rules={"data_seed": "run"}).data_seed == 7


def test_a_rule_can_be_mixed_into_the_other_profile_and_explicit_training_wins():
    cfg = ExperimentConfig(preset="paper-text", rules={"split": "floor"}, training={"lr": 0.01})
    assert cfg.rules.split == "floor" and cfg.rules.ablation_unit == "mappings"
    assert (cfg.training.lr, cfg.training.weight_decay) == (0.01, 0.1)
    t = ExperimentConfig(training={"preset": "paper-table1"}).training
    assert (t.lr, t.weight_decay, t.seeded_projector_init) == (2e-5, 0.1, False)
    assert ExperimentConfig().cell_id() != ExperimentConfig(preset="paper-text").cell_id()


def test_resolved_rules_round_trip_through_config_toml(tmp_path):
    from harness.runs.store import RunDir

    cfg = ExperimentConfig(preset="paper-text", rules={"split": "floor"}, seed=3)
    RunDir(tmp_path).write_config(cfg)
    text = (tmp_path / "config.toml").read_text()
    assert 'split = "floor"' in text and 'ablation_unit = "mappings"' in text
    again = load_grid(tmp_path / "config.toml").cells()
    assert again == [cfg] and again[0].cell_id() == cfg.cell_id()


def test_unknown_profile_and_rule_values_name_the_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('preset = "paper-blog"\n')
    with pytest.raises(UserError, match="preset"):
        load_grid(path)
    path.write_text('[rules]\nsplit = "ceil"\n')
    with pytest.raises(UserError, match="rules.split"):
        load_grid(path)


def test_presets_set_optimiser_and_explicit_values_win():
    assert ExperimentConfig(training={"preset": "paper-code"}).training.lr == 1e-3
    assert ExperimentConfig(training={"preset": "paper-code"}).training.weight_decay == 0.0
    assert ExperimentConfig(training={"preset": "paper-code", "lr": 5e-4}).training.lr == 5e-4


def test_cell_id_ignores_output_location_but_not_the_seed():
    a = ExperimentConfig(seed=1)
    assert a.cell_id() == ExperimentConfig(seed=1, output_dir="elsewhere").cell_id()
    assert a.cell_id() != ExperimentConfig(seed=2).cell_id()


def test_grid_expands_cartesian_product_with_dotted_keys():
    grid = GridConfig(base=ExperimentConfig(), sweeps=[{"seed": [1, 2, 3], "ablation.level": [10, 100]}])
    cells = grid.cells()
    assert len(cells) == 6
    assert {(c.seed, c.ablation.level) for c in cells} == {(s, lv) for s in (1, 2, 3) for lv in (10, 100)}
    assert len({c.cell_id() for c in cells}) == 6


def test_several_sweeps_make_a_union_without_duplicates(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(
        dedent("""
        seed = 1
        [[sweep]]
        "ablation.kind" = ["random"]
        "ablation.level" = [10, 100]
        [[sweep]]
        "ablation.kind" = ["systematic"]
        "ablation.level" = [10, 20, 30]
        [[sweep]]
        "ablation.level" = [100]
    """)
    )
    cells = load_grid(path).cells()
    assert sorted((c.ablation.kind, c.ablation.level) for c in cells) == [
        ("random", 10),
        ("random", 100),
        ("systematic", 10),
        ("systematic", 20),
        ("systematic", 30),
    ]


def test_toml_grid_file(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(
        dedent("""
        task = "things"
        [ablation]
        kind = "systematic"
        level = 10
        [sweep]
        shuffle = ["original", "across_category"]
        init = ["pretrained", "random"]
    """)
    )
    cells = load_grid(path).cells()
    assert len(cells) == 4 and all(c.ablation.kind == "systematic" for c in cells)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('init = "pretrianed"', "init"),
        ("[ablation]\nlevel = 130", "ablation"),
        ("[training]\nlr = -1", "training.lr"),
        ("[data]\nsplit = [0.5, 0.5, 0.5]", "data.split"),
        ('[data]\nimage_tokens = "pool:x"', "data.image_tokens"),
        ("colour = 3", "colour"),
        ("[sweep]\nseed = 3", "sweep"),
        ("[sweep]\nnope = [1]", "sweep.nope"),
        ('[sweep]\n"training.lr" = [0.1, -2]', "training.lr"),
    ],
)
def test_bad_config_names_the_field(tmp_path, body, field):
    path = tmp_path / "bad.toml"
    path.write_text(body + "\n")
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load_grid(path)


def test_cli_config_error_exits_2_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[training]\nbatch_size = 0\n")
    result = run_cli("run", str(path), "--dry-run")
    assert result.returncode == 2
    assert "training.batch_size" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_missing_and_malformed_files_exit_2(tmp_path):
    assert run_cli("run", str(tmp_path / "absent.toml"), "--dry-run").returncode == 2
    bad = tmp_path / "x.toml"
    bad.write_text("task = \n")
    result = run_cli("run", str(bad), "--dry-run")
    assert result.returncode == 2 and "not valid TOML" in result.stderr
